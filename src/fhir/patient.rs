//! The seed's local patient record and its conversion to and from a FHIR Patient
//! (`toFHIRPatient` / `fromFHIRPatient`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{Address, CodeableConcept, ContactPoint, HumanName, Identifier, Patient};

/// A patient as the seed's applications store it: flat, camelCase JSON. What FHIR and HL7 v2
/// conversions read from and write to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalPatient {
    /// The local id (becomes `Patient.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `YYYY-MM-DD` (partial dates `YYYY` and `YYYY-MM` allowed, as in FHIR `date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// FHIR administrative gender: `male`, `female`, `other` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number as entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Medical record number (an identifier of type MR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrn: Option<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<LocalAddress>,
}

/// A postal address of a [`LocalPatient`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalAddress {
    /// Street lines, first to last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// The v2 identifier-type code system (table 0203), where `MR` means medical record number.
pub const IDENTIFIER_TYPE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// How a [`LocalPatient`] becomes a FHIR Patient: the namespace of the MRN differs per site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientOptions {
    /// `Identifier.system` of the MRN (a URI naming the hospital's record-number space).
    pub mrn_system: String,
}

impl Default for PatientOptions {
    fn default() -> Self {
        Self {
            mrn_system: "urn:oid:2.16.840.1.113883.19.5".to_owned(),
        }
    }
}

/// Why a patient could not be converted; names the field and the value's problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatientError {
    /// `gender` is not a FHIR administrative-gender code.
    #[error("gender must be one of male, female, other, unknown (got {0:?})")]
    Gender(String),
    /// `dateOfBirth` is not a FHIR date.
    #[error("dateOfBirth must be a date YYYY, YYYY-MM or YYYY-MM-DD (got {0:?})")]
    DateOfBirth(String),
    /// The JSON is not a Patient the model can read.
    #[error("not a FHIR Patient: {0}")]
    NotAPatient(String),
}

const GENDERS: [&str; 4] = ["male", "female", "other", "unknown"];

/// `toFHIRPatient`: the local record as a FHIR Patient.
///
/// Name → one `official` HumanName (`family`, one `given`); email and phone → telecom;
/// MRN → an identifier typed `MR` with `options.mrn_system`; address → one `home` Address.
/// Empty strings count as absent (FHIR forbids empty strings).
pub fn to_fhir_patient(
    local: &LocalPatient,
    options: &PatientOptions,
) -> Result<Patient, PatientError> {
    let present = |s: &Option<String>| s.as_ref().filter(|v| !v.is_empty()).cloned();
    if let Some(gender) = present(&local.gender)
        && !GENDERS.contains(&gender.as_str())
    {
        return Err(PatientError::Gender(gender));
    }
    if let Some(date) = present(&local.date_of_birth)
        && !is_fhir_date(&date)
    {
        return Err(PatientError::DateOfBirth(date));
    }
    let mut patient = Patient {
        id: present(&local.id),
        gender: present(&local.gender),
        birth_date: present(&local.date_of_birth),
        ..Patient::default()
    };
    if let Some(mrn) = present(&local.mrn) {
        patient.identifier.push(Identifier {
            use_: Some("usual".to_owned()),
            type_: Some(CodeableConcept::coded(
                IDENTIFIER_TYPE_SYSTEM,
                "MR",
                "Medical record number",
            )),
            system: Some(options.mrn_system.clone()),
            value: Some(mrn),
            ..Identifier::default()
        });
    }
    let family = present(&local.last_name);
    let given = present(&local.first_name);
    if family.is_some() || given.is_some() {
        patient.name.push(HumanName {
            use_: Some("official".to_owned()),
            family,
            given: given.into_iter().collect(),
            ..HumanName::default()
        });
    }
    for (system, value) in [("phone", &local.phone), ("email", &local.email)] {
        if let Some(value) = present(value) {
            patient.telecom.push(ContactPoint {
                system: Some(system.to_owned()),
                value: Some(value),
                ..ContactPoint::default()
            });
        }
    }
    if let Some(address) = &local.address {
        let fhir = Address {
            use_: Some("home".to_owned()),
            line: address
                .lines
                .iter()
                .filter(|l| !l.is_empty())
                .cloned()
                .collect(),
            city: present(&address.city),
            state: present(&address.state),
            postal_code: present(&address.postal_code),
            country: present(&address.country),
            ..Address::default()
        };
        if fhir
            != (Address {
                use_: fhir.use_.clone(),
                ..Address::default()
            })
        {
            patient.address.push(fhir);
        }
    }
    Ok(patient)
}

/// `fromFHIRPatient`: the local record from a FHIR Patient.
///
/// Picks the `official` name (else the first), the identifier typed `MR` (else none), the
/// first phone and email, and the `home` address (else the first). Several given names are
/// joined with spaces.
pub fn from_fhir_patient(patient: &Patient) -> LocalPatient {
    let name = patient
        .name
        .iter()
        .find(|n| n.use_.as_deref() == Some("official"))
        .or_else(|| patient.name.first());
    let mrn = patient.identifier.iter().find(|i| {
        i.type_
            .as_ref()
            .is_some_and(|t| t.has_code(IDENTIFIER_TYPE_SYSTEM, "MR"))
    });
    let telecom = |system: &str| {
        patient
            .telecom
            .iter()
            .find(|t| t.system.as_deref() == Some(system))
            .and_then(|t| t.value.clone())
    };
    let address = patient
        .address
        .iter()
        .find(|a| a.use_.as_deref() == Some("home"))
        .or_else(|| patient.address.first());
    LocalPatient {
        id: patient.id.clone(),
        first_name: name
            .filter(|n| !n.given.is_empty())
            .map(|n| n.given.join(" ")),
        last_name: name.and_then(|n| n.family.clone()),
        date_of_birth: patient.birth_date.clone(),
        gender: patient.gender.clone(),
        email: telecom("email"),
        phone: telecom("phone"),
        mrn: mrn.and_then(|i| i.value.clone()),
        address: address.map(|a| LocalAddress {
            lines: a.line.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
    }
}

/// [`from_fhir_patient`] for JSON, as it arrives from a server or a channel.
pub fn from_fhir_patient_json(value: &Value) -> Result<LocalPatient, PatientError> {
    let patient: Patient = serde_json::from_value(value.clone())
        .map_err(|e| PatientError::NotAPatient(e.to_string()))?;
    Ok(from_fhir_patient(&patient))
}

fn is_fhir_date(text: &str) -> bool {
    super::validate::is_date(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn jane() -> LocalPatient {
        LocalPatient {
            id: Some("p1".into()),
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            date_of_birth: Some("1980-04-12".into()),
            gender: Some("female".into()),
            email: Some("jane@example.org".into()),
            phone: Some("555-0101".into()),
            mrn: Some("MRN123".into()),
            address: Some(LocalAddress {
                lines: vec!["1 Main St".into(), "Apt 2".into()],
                city: Some("Springfield".into()),
                state: Some("IL".into()),
                postal_code: Some("62701".into()),
                country: Some("US".into()),
            }),
        }
    }

    fn options() -> PatientOptions {
        PatientOptions {
            mrn_system: "http://hospital.example.org/mrn".into(),
        }
    }

    #[test]
    fn to_fhir_writes_the_documented_shape() {
        let patient = to_fhir_patient(&jane(), &options()).unwrap();
        let json = serde_json::to_value(&patient).unwrap();
        assert_eq!(json["resourceType"], "Patient");
        assert_eq!(json["id"], "p1");
        assert_eq!(
            json["identifier"][0]["system"],
            "http://hospital.example.org/mrn"
        );
        assert_eq!(json["identifier"][0]["value"], "MRN123");
        assert_eq!(json["identifier"][0]["type"]["coding"][0]["code"], "MR");
        assert_eq!(
            json["identifier"][0]["type"]["coding"][0]["system"],
            IDENTIFIER_TYPE_SYSTEM
        );
        assert_eq!(
            json["name"][0],
            json!({"use": "official", "family": "Doe", "given": ["Jane"]})
        );
        assert_eq!(
            json["telecom"][0],
            json!({"system": "phone", "value": "555-0101"})
        );
        assert_eq!(
            json["telecom"][1],
            json!({"system": "email", "value": "jane@example.org"})
        );
        assert_eq!(json["address"][0]["line"], json!(["1 Main St", "Apt 2"]));
        assert_eq!(json["address"][0]["postalCode"], "62701");
        assert_eq!(json["birthDate"], "1980-04-12");
        let outcome = crate::fhir::validate::validate(&json);
        assert!(!outcome.has_errors(), "{outcome:?}");
    }

    #[test]
    fn round_trip_loses_nothing() {
        let patient = to_fhir_patient(&jane(), &options()).unwrap();
        let json = serde_json::to_value(&patient).unwrap();
        assert_eq!(from_fhir_patient_json(&json).unwrap(), jane());
        assert_eq!(from_fhir_patient(&patient), jane());
        let empty = LocalPatient::default();
        assert_eq!(
            from_fhir_patient(&to_fhir_patient(&empty, &options()).unwrap()),
            empty
        );
    }

    #[test]
    fn bad_gender_and_date_are_named() {
        let mut p = jane();
        p.gender = Some("F".into());
        assert_eq!(
            to_fhir_patient(&p, &options()),
            Err(PatientError::Gender("F".into()))
        );
        let mut p = jane();
        p.date_of_birth = Some("1980-02-30".into());
        assert_eq!(
            to_fhir_patient(&p, &options()),
            Err(PatientError::DateOfBirth("1980-02-30".into()))
        );
        p.date_of_birth = Some("12/04/1980".into());
        assert!(to_fhir_patient(&p, &options()).is_err());
    }

    #[test]
    fn from_fhir_prefers_official_name_mr_identifier_and_home_address() {
        let json = json!({
            "resourceType": "Patient",
            "identifier": [
                {"system": "http://ssa.gov", "value": "999-00-1234"},
                {"type": {"coding": [{"system": IDENTIFIER_TYPE_SYSTEM, "code": "MR"}]}, "value": "M7"}
            ],
            "name": [{"use": "nickname", "given": ["Jo"]}, {"use": "official", "family": "Roe", "given": ["Joanna", "May"]}],
            "address": [{"use": "work", "city": "Work"}, {"use": "home", "city": "Home"}]
        });
        let local = from_fhir_patient_json(&json).unwrap();
        assert_eq!(local.mrn.as_deref(), Some("M7"));
        assert_eq!(local.first_name.as_deref(), Some("Joanna May"));
        assert_eq!(local.last_name.as_deref(), Some("Roe"));
        assert_eq!(local.address.unwrap().city.as_deref(), Some("Home"));
        assert!(from_fhir_patient_json(&json!({"resourceType": "Observation"})).is_err());
    }

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[A-Za-z0-9][A-Za-z0-9 .'@-]{0,20}")
    }

    proptest! {
        #[test]
        fn any_local_patient_round_trips(
            id in proptest::option::of("[A-Za-z0-9.-]{1,20}"),
            first_name in text(), last_name in text(), email in text(), phone in text(), mrn in text(),
            gender in proptest::option::of(proptest::sample::select(GENDERS.to_vec())),
            date_of_birth in proptest::option::of("(19[0-9]{2}|20[0-2][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"),
            lines in proptest::collection::vec("[A-Za-z0-9][A-Za-z0-9 ]{0,15}", 0..3),
            city in text(), state in text(), postal_code in text(), country in text(),
        ) {
            let address = LocalAddress { lines, city, state, postal_code, country };
            let address = (address != LocalAddress::default()).then_some(address);
            let local = LocalPatient {
                id, first_name, last_name, email, phone, mrn, address,
                gender: gender.map(str::to_owned), date_of_birth,
            };
            let json = serde_json::to_value(to_fhir_patient(&local, &options()).unwrap()).unwrap();
            prop_assert_eq!(from_fhir_patient_json(&json).unwrap(), local);
        }
    }
}
