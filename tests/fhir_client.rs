//! The FHIR client, SMART Backend Services and the FHIR destination: against the project's own
//! test servers (`tests/servers/`, a real FHIR engine and a real OAuth server) and against
//! simulated servers for the answers those do not give on demand.

mod bundles;
mod channel;
mod live;
mod servers;
mod simulated;
mod split; // a transaction delivered in two, against a simulated server
