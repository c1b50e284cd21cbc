//! HL7 v2 → FHIR R4 transaction Bundles (being written).
