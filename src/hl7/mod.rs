//! HL7 v2: placeholder.
