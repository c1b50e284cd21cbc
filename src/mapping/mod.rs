//! Declarative field mappings between local records, JSON (JSONPath, RFC 9535) and HL7 v2
//! (HL7 paths): transform functions, record validation and conflict resolution. Pure: no I/O
//! except loading mapping files.
