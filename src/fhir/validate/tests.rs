//! Unit tests for every validation rule (filled below).
