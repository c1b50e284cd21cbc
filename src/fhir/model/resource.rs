//! [`Resource`], the `resourceType`-tagged union of the modelled resources, and the pieces
//! every resource struct shares: the [`FhirResource`] trait and the [`TypeTag`] field.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    AllergyIntolerance, Appointment, Bundle, Condition, DiagnosticReport, DocumentReference,
    Encounter, Medication, MedicationRequest, Observation, OperationOutcome, Organization, Patient,
    Practitioner, RelatedPerson, ServiceRequest, Specimen,
};

/// A typed resource struct: knows its `resourceType`, so it can write and check the tag.
pub trait FhirResource {
    /// The `resourceType` in JSON (`Patient`).
    const RESOURCE_TYPE: &'static str;
}

/// The `resourceType` field of a resource struct: writes `R::RESOURCE_TYPE` and refuses to
/// read any other type, so a Patient struct can't silently hold an Observation.
pub struct TypeTag<R>(PhantomData<fn() -> R>);

impl<R> Default for TypeTag<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<R> Clone for TypeTag<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for TypeTag<R> {}

impl<R> PartialEq for TypeTag<R> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<R: FhirResource> fmt::Debug for TypeTag<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(R::RESOURCE_TYPE)
    }
}

impl<R: FhirResource> Serialize for TypeTag<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(R::RESOURCE_TYPE)
    }
}

impl<'de, R: FhirResource> Deserialize<'de> for TypeTag<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = String::deserialize(deserializer)?;
        if found == R::RESOURCE_TYPE {
            Ok(Self::default())
        } else {
            Err(de::Error::custom(format!(
                "resourceType is \"{found}\", expected \"{}\"",
                R::RESOURCE_TYPE
            )))
        }
    }
}

/// Whether a typed element is absent and so left out of the JSON (serde
/// `skip_serializing_if` for the fields of `domain_resource!`).
pub fn is_absent<T: Absent>(value: &T) -> bool {
    value.absent()
}

/// An element that can be missing: `Option` (None) or a list (empty).
pub trait Absent {
    /// True when the element is missing.
    fn absent(&self) -> bool;
}

impl<T> Absent for Option<T> {
    fn absent(&self) -> bool {
        self.is_none()
    }
}

impl<T> Absent for Vec<T> {
    fn absent(&self) -> bool {
        self.is_empty()
    }
}

/// Any FHIR resource: one of the modelled types, or [`Resource::Other`] holding the JSON of a
/// type not modelled here (it still round-trips).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // resources are built once and moved, not copied in bulk
pub enum Resource {
    /// `Patient`.
    Patient(Patient),
    /// `Practitioner`.
    Practitioner(Practitioner),
    /// `Organization`.
    Organization(Organization),
    /// `RelatedPerson`.
    RelatedPerson(RelatedPerson),
    /// `Observation`.
    Observation(Observation),
    /// `Condition`.
    Condition(Condition),
    /// `AllergyIntolerance`.
    AllergyIntolerance(AllergyIntolerance),
    /// `DiagnosticReport`.
    DiagnosticReport(DiagnosticReport),
    /// `Specimen`.
    Specimen(Specimen),
    /// `Medication`.
    Medication(Medication),
    /// `MedicationRequest`.
    MedicationRequest(MedicationRequest),
    /// `Appointment`.
    Appointment(Appointment),
    /// `Encounter`.
    Encounter(Encounter),
    /// `ServiceRequest`.
    ServiceRequest(ServiceRequest),
    /// `DocumentReference`.
    DocumentReference(DocumentReference),
    /// `Bundle`.
    Bundle(Bundle),
    /// `OperationOutcome`.
    OperationOutcome(OperationOutcome),
    /// Any other resource type, kept as JSON.
    Other(Value),
}

/// Why JSON could not be read as a typed resource.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The JSON is not an object with a string `resourceType`.
    #[error("not a FHIR resource: {0}")]
    NotAResource(&'static str),
    /// An element has the wrong JSON shape for its type.
    #[error("{resource_type}: {source}")]
    Shape {
        /// The resource type being read.
        resource_type: String,
        /// What serde found wrong (names the element).
        source: serde_json::Error,
    },
}

impl Resource {
    /// Reads a resource from JSON, picking the struct by `resourceType`.
    pub fn from_json(value: Value) -> Result<Self, ModelError> {
        let resource_type = match value.get("resourceType") {
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(ModelError::NotAResource("resourceType is not a string")),
            None if value.is_object() => {
                return Err(ModelError::NotAResource("no resourceType"));
            }
            None => return Err(ModelError::NotAResource("not a JSON object")),
        };
        let shape = |source| ModelError::Shape {
            resource_type: resource_type.clone(),
            source,
        };
        macro_rules! typed {
            ($variant:ident) => {
                serde_json::from_value(value)
                    .map(Resource::$variant)
                    .map_err(shape)
            };
        }
        match resource_type.as_str() {
            "Patient" => typed!(Patient),
            "Practitioner" => typed!(Practitioner),
            "Organization" => typed!(Organization),
            "RelatedPerson" => typed!(RelatedPerson),
            "Observation" => typed!(Observation),
            "Condition" => typed!(Condition),
            "AllergyIntolerance" => typed!(AllergyIntolerance),
            "DiagnosticReport" => typed!(DiagnosticReport),
            "Specimen" => typed!(Specimen),
            "Medication" => typed!(Medication),
            "MedicationRequest" => typed!(MedicationRequest),
            "Appointment" => typed!(Appointment),
            "Encounter" => typed!(Encounter),
            "ServiceRequest" => typed!(ServiceRequest),
            "DocumentReference" => typed!(DocumentReference),
            "Bundle" => typed!(Bundle),
            "OperationOutcome" => typed!(OperationOutcome),
            _ => Ok(Resource::Other(value)),
        }
    }

    /// Writes the resource as JSON.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// The `resourceType` (`None` only for an [`Resource::Other`] without one).
    pub fn resource_type(&self) -> Option<&str> {
        Some(match self {
            Resource::Patient(_) => "Patient",
            Resource::Practitioner(_) => "Practitioner",
            Resource::Organization(_) => "Organization",
            Resource::RelatedPerson(_) => "RelatedPerson",
            Resource::Observation(_) => "Observation",
            Resource::Condition(_) => "Condition",
            Resource::AllergyIntolerance(_) => "AllergyIntolerance",
            Resource::DiagnosticReport(_) => "DiagnosticReport",
            Resource::Specimen(_) => "Specimen",
            Resource::Medication(_) => "Medication",
            Resource::MedicationRequest(_) => "MedicationRequest",
            Resource::Appointment(_) => "Appointment",
            Resource::Encounter(_) => "Encounter",
            Resource::ServiceRequest(_) => "ServiceRequest",
            Resource::DocumentReference(_) => "DocumentReference",
            Resource::Bundle(_) => "Bundle",
            Resource::OperationOutcome(_) => "OperationOutcome",
            Resource::Other(value) => return value.get("resourceType")?.as_str(),
        })
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Resource::Patient(r) => r.serialize(serializer),
            Resource::Practitioner(r) => r.serialize(serializer),
            Resource::Organization(r) => r.serialize(serializer),
            Resource::RelatedPerson(r) => r.serialize(serializer),
            Resource::Observation(r) => r.serialize(serializer),
            Resource::Condition(r) => r.serialize(serializer),
            Resource::AllergyIntolerance(r) => r.serialize(serializer),
            Resource::DiagnosticReport(r) => r.serialize(serializer),
            Resource::Specimen(r) => r.serialize(serializer),
            Resource::Medication(r) => r.serialize(serializer),
            Resource::MedicationRequest(r) => r.serialize(serializer),
            Resource::Appointment(r) => r.serialize(serializer),
            Resource::Encounter(r) => r.serialize(serializer),
            Resource::ServiceRequest(r) => r.serialize(serializer),
            Resource::DocumentReference(r) => r.serialize(serializer),
            Resource::Bundle(r) => r.serialize(serializer),
            Resource::OperationOutcome(r) => r.serialize(serializer),
            Resource::Other(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Resource::from_json(value).map_err(de::Error::custom)
    }
}
