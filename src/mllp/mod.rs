//! MLLP framing: placeholder.
