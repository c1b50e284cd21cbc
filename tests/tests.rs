//! The one integration-test binary: everything that opens a socket, runs the `ihub` binary or
//! reads files outside the crate lives here, one module per area.
