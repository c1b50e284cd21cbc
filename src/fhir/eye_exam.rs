//! The seed's `createEyeExamObservation`: an eye examination result (visual acuity,
//! intraocular pressure, refraction) for one eye as a FHIR Observation with LOINC codes, a
//! SNOMED CT body site, category `exam` and the notes as `note`.
//!
//! Codes, and where they were checked:
//! - LOINC 98499-7 "Visual acuity uncorrected Right eye", 98498-9 "Visual acuity uncorrected
//!   Left eye", 98506-9 "Visual acuity.binocular far uncorrected Eye" (loinc.org entries as
//!   republished by healthassure.in/codes; 98498-9 also in a published R4 profile's pattern).
//! - LOINC 79892-6 "Right eye Intraocular pressure", 79893-4 "Left eye Intraocular pressure"
//!   (the EyeMatics KDS IG value set `iop-code`, and phenopacket examples). There is no
//!   both-eyes IOP code: pressure is measured per eye, so `Both` is refused.
//! - LOINC 65890-6 / 65894-8 "Spherical power Right / Left eye", 65892-2 / 65896-3
//!   "Cylindrical power Right / Left eye", 65891-4 / 65895-5 "Cylinder axis Right / Left eye"
//!   (an ophthalmology Medplum bot's code map). No LOINC panel code for a whole refraction was
//!   confirmed, so the refraction Observation's own `code` is text only and the three
//!   components carry the LOINC codes.
//! - SNOMED CT 18944008 "Right eye structure", 8966001 "Left eye structure", 40638003
//!   "Structure of both eyes" (several clinical systems' laterality tables agree).
//! - UCUM `mm[Hg]`, `[diop]`, `deg`; category `exam` from
//!   `http://terminology.hl7.org/CodeSystem/observation-category`.

use serde_json::Number;

use super::model::{
    Annotation, CodeableConcept, Observation, ObservationComponent, Quantity, Reference,
};

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const UCUM: &str = "http://unitsofmeasure.org";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// What was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EyeExamKind {
    /// Visual acuity (a Snellen fraction such as `20/40`, or a decimal).
    VisualAcuity,
    /// Intraocular pressure in mmHg.
    IntraocularPressure,
    /// Refraction: sphere, cylinder and axis.
    Refraction,
}

/// Which eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eye {
    /// Right eye (OD).
    Right,
    /// Left eye (OS).
    Left,
    /// Both eyes (OU): visual acuity only.
    Both,
}

/// A refraction result for one eye.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refraction {
    /// Spherical power in diopters.
    pub sphere: f64,
    /// Cylindrical power in diopters, if astigmatism was measured.
    pub cylinder: Option<f64>,
    /// Cylinder axis in degrees (0–180), if a cylinder was given.
    pub axis: Option<u16>,
}

/// The measured value.
#[derive(Debug, Clone, PartialEq)]
pub enum EyeExamValue {
    /// A number: decimal visual acuity, or pressure in mmHg.
    Number(f64),
    /// Text: a Snellen fraction such as `20/40`.
    Text(String),
    /// A refraction.
    Refraction(Refraction),
}

/// One eye exam result, as the seed's `{type, value, eye, date, notes}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EyeExam {
    /// What was measured.
    pub kind: EyeExamKind,
    /// The result.
    pub value: EyeExamValue,
    /// Which eye.
    pub eye: Eye,
    /// When (FHIR dateTime: `2024-05-01` or `2024-05-01T10:30:00Z`).
    pub date: String,
    /// Free-text notes, kept as `Observation.note`.
    pub notes: Option<String>,
}

/// Why an exam can't become an Observation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EyeExamError {
    /// The value does not fit the kind (text for a pressure, a refraction for acuity).
    #[error("{kind:?} cannot take the value {value:?}")]
    ValueKind {
        /// The kind of exam.
        kind: EyeExamKind,
        /// The value given.
        value: EyeExamValue,
    },
    /// The measurement is per eye; `Both` has no code.
    #[error(
        "{0:?} is measured per eye: make one Observation for the right eye and one for the left"
    )]
    PerEye(EyeExamKind),
    /// A number is not finite or is out of range.
    #[error("{0}")]
    OutOfRange(String),
    /// The date is not a FHIR dateTime.
    #[error("date must be a FHIR dateTime such as 2024-05-01 or 2024-05-01T10:30:00Z (got {0:?})")]
    Date(String),
    /// The patient id is not a FHIR id.
    #[error("patient id must be a FHIR id (letters, digits, '-', '.'; up to 64) (got {0:?})")]
    PatientId(String),
}

/// `createEyeExamObservation(patientId, exam)`: a final Observation for `Patient/{patient_id}`.
pub fn create_eye_exam_observation(
    patient_id: &str,
    exam: &EyeExam,
) -> Result<Observation, EyeExamError> {
    if !crate::fhir::validate::is_id(patient_id) {
        return Err(EyeExamError::PatientId(patient_id.to_owned()));
    }
    if !crate::fhir::validate::is_date_time(&exam.date) {
        return Err(EyeExamError::Date(exam.date.clone()));
    }
    let mut observation = Observation {
        status: Some("final".to_owned()),
        category: vec![CodeableConcept::coded(CATEGORY, "exam", "Exam")],
        subject: Some(Reference::to(&format!("Patient/{patient_id}"))),
        effective_date_time: Some(exam.date.clone()),
        body_site: Some(body_site(exam.eye)),
        note: exam
            .notes
            .iter()
            .filter(|n| !n.trim().is_empty())
            .map(|n| Annotation {
                text: Some(n.clone()),
                ..Annotation::default()
            })
            .collect(),
        ..Observation::default()
    };
    let mismatch = || EyeExamError::ValueKind {
        kind: exam.kind,
        value: exam.value.clone(),
    };
    match (exam.kind, &exam.value) {
        (EyeExamKind::VisualAcuity, value) => {
            let (code, display) = match exam.eye {
                Eye::Right => ("98499-7", "Visual acuity uncorrected Right eye"),
                Eye::Left => ("98498-9", "Visual acuity uncorrected Left eye"),
                Eye::Both => ("98506-9", "Visual acuity.binocular far uncorrected Eye"),
            };
            observation.code = Some(CodeableConcept::coded(LOINC, code, display));
            match value {
                EyeExamValue::Text(text) if !text.trim().is_empty() => {
                    observation.value_string = Some(text.clone());
                }
                EyeExamValue::Number(n) => {
                    observation.value_quantity =
                        Some(quantity(*n, "decimal", "1", "visual acuity")?);
                }
                _ => return Err(mismatch()),
            }
        }
        (EyeExamKind::IntraocularPressure, EyeExamValue::Number(mmhg)) => {
            let (code, display) = match exam.eye {
                Eye::Right => ("79892-6", "Right eye Intraocular pressure"),
                Eye::Left => ("79893-4", "Left eye Intraocular pressure"),
                Eye::Both => return Err(EyeExamError::PerEye(exam.kind)),
            };
            if *mmhg < 0.0 {
                return Err(EyeExamError::OutOfRange(format!(
                    "intraocular pressure {mmhg} is negative"
                )));
            }
            observation.code = Some(CodeableConcept::coded(LOINC, code, display));
            observation.value_quantity =
                Some(quantity(*mmhg, "mmHg", "mm[Hg]", "intraocular pressure")?);
        }
        (EyeExamKind::Refraction, EyeExamValue::Refraction(refraction)) => {
            let (side, codes) = match exam.eye {
                Eye::Right => ("right", ["65890-6", "65892-2", "65891-4"]),
                Eye::Left => ("left", ["65894-8", "65896-3", "65895-5"]),
                Eye::Both => return Err(EyeExamError::PerEye(exam.kind)),
            };
            let eye_name = if side == "right" { "Right" } else { "Left" };
            observation.code = Some(CodeableConcept {
                text: Some(format!("Refraction, {side} eye")),
                ..CodeableConcept::default()
            });
            observation.component = refraction_components(refraction, codes, eye_name)?;
        }
        _ => return Err(mismatch()),
    }
    Ok(observation)
}

fn refraction_components(
    refraction: &Refraction,
    [sphere, cylinder, axis]: [&str; 3],
    eye: &str,
) -> Result<Vec<ObservationComponent>, EyeExamError> {
    let component = |code: &str, display: String, value: Quantity| ObservationComponent {
        code: Some(CodeableConcept::coded(LOINC, code, &display)),
        value_quantity: Some(value),
        ..ObservationComponent::default()
    };
    let mut parts = vec![component(
        sphere,
        format!("Spherical power {eye} eye"),
        quantity(refraction.sphere, "diopter", "[diop]", "sphere")?,
    )];
    if let Some(cyl) = refraction.cylinder {
        parts.push(component(
            cylinder,
            format!("Cylindrical power {eye} eye"),
            quantity(cyl, "diopter", "[diop]", "cylinder")?,
        ));
    }
    if let Some(degrees) = refraction.axis {
        if degrees > 180 {
            return Err(EyeExamError::OutOfRange(format!(
                "axis {degrees} is not within 0–180 degrees"
            )));
        }
        parts.push(component(
            axis,
            format!("Cylinder axis {eye} eye"),
            quantity(f64::from(degrees), "degree", "deg", "axis")?,
        ));
    }
    Ok(parts)
}

fn body_site(eye: Eye) -> CodeableConcept {
    let (code, display) = match eye {
        Eye::Right => ("18944008", "Right eye structure"),
        Eye::Left => ("8966001", "Left eye structure"),
        Eye::Both => ("40638003", "Structure of both eyes"),
    };
    CodeableConcept::coded(SNOMED, code, display)
}

fn quantity(value: f64, unit: &str, code: &str, what: &str) -> Result<Quantity, EyeExamError> {
    // Whole numbers are written as integers (`17`, not `17.0`), as people write them.
    let number = if value.fract() == 0.0 && value.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        Some(Number::from(value as i64))
    } else {
        Number::from_f64(value)
    };
    let number = number.ok_or_else(|| {
        EyeExamError::OutOfRange(format!("{what} {value} is not a finite number"))
    })?;
    Ok(Quantity {
        value: Some(number),
        unit: Some(unit.to_owned()),
        system: Some(UCUM.to_owned()),
        code: Some(code.to_owned()),
        ..Quantity::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exam(kind: EyeExamKind, value: EyeExamValue, eye: Eye) -> EyeExam {
        EyeExam {
            kind,
            value,
            eye,
            date: "2024-05-01T10:30:00Z".into(),
            notes: Some("Patient cooperative".into()),
        }
    }

    fn json_of(o: &Observation) -> serde_json::Value {
        serde_json::to_value(o).unwrap()
    }

    fn assert_valid(o: &Observation) {
        let outcome = crate::fhir::validate::validate(&json_of(o));
        assert!(!outcome.has_errors(), "{outcome:?}");
    }

    #[test]
    fn visual_acuity_per_eye_has_loinc_code_body_site_category_and_note() {
        let o = create_eye_exam_observation(
            "p1",
            &exam(
                EyeExamKind::VisualAcuity,
                EyeExamValue::Text("20/40".into()),
                Eye::Right,
            ),
        )
        .unwrap();
        let j = json_of(&o);
        assert_eq!(
            j["code"]["coding"][0],
            json!({"system": LOINC, "code": "98499-7", "display": "Visual acuity uncorrected Right eye"})
        );
        assert_eq!(j["bodySite"]["coding"][0]["code"], "18944008");
        assert_eq!(j["category"][0]["coding"][0]["code"], "exam");
        assert_eq!(j["category"][0]["coding"][0]["system"], CATEGORY);
        assert_eq!(j["note"][0]["text"], "Patient cooperative");
        assert_eq!(j["valueString"], "20/40");
        assert_eq!(j["subject"]["reference"], "Patient/p1");
        assert_eq!(j["status"], "final");
        assert_valid(&o);
        let left = create_eye_exam_observation(
            "p1",
            &exam(
                EyeExamKind::VisualAcuity,
                EyeExamValue::Number(0.8),
                Eye::Left,
            ),
        )
        .unwrap();
        assert_eq!(json_of(&left)["code"]["coding"][0]["code"], "98498-9");
        assert_eq!(json_of(&left)["bodySite"]["coding"][0]["code"], "8966001");
        assert_eq!(json_of(&left)["valueQuantity"]["value"], json!(0.8));
        let both = create_eye_exam_observation(
            "p1",
            &exam(
                EyeExamKind::VisualAcuity,
                EyeExamValue::Text("20/20".into()),
                Eye::Both,
            ),
        )
        .unwrap();
        assert_eq!(json_of(&both)["code"]["coding"][0]["code"], "98506-9");
        assert_eq!(json_of(&both)["bodySite"]["coding"][0]["code"], "40638003");
    }

    #[test]
    fn intraocular_pressure_is_mm_hg_per_eye() {
        let o = create_eye_exam_observation(
            "p1",
            &exam(
                EyeExamKind::IntraocularPressure,
                EyeExamValue::Number(17.0),
                Eye::Left,
            ),
        )
        .unwrap();
        let j = json_of(&o);
        assert_eq!(j["code"]["coding"][0]["code"], "79893-4");
        assert_eq!(
            j["valueQuantity"],
            json!({"value": 17, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"})
        );
        assert_valid(&o);
        let right = create_eye_exam_observation(
            "p1",
            &exam(
                EyeExamKind::IntraocularPressure,
                EyeExamValue::Number(21.5),
                Eye::Right,
            ),
        )
        .unwrap();
        assert_eq!(json_of(&right)["code"]["coding"][0]["code"], "79892-6");
        assert_eq!(
            create_eye_exam_observation(
                "p1",
                &exam(
                    EyeExamKind::IntraocularPressure,
                    EyeExamValue::Number(17.0),
                    Eye::Both
                )
            ),
            Err(EyeExamError::PerEye(EyeExamKind::IntraocularPressure))
        );
    }

    #[test]
    fn refraction_has_sphere_cylinder_axis_components() {
        let value = EyeExamValue::Refraction(Refraction {
            sphere: -2.25,
            cylinder: Some(-0.75),
            axis: Some(90),
        });
        let o = create_eye_exam_observation(
            "p1",
            &exam(EyeExamKind::Refraction, value.clone(), Eye::Right),
        )
        .unwrap();
        let j = json_of(&o);
        let codes: Vec<&str> = j["component"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"]["coding"][0]["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["65890-6", "65892-2", "65891-4"]);
        assert_eq!(j["component"][0]["valueQuantity"]["code"], "[diop]");
        assert_eq!(j["component"][0]["valueQuantity"]["value"], json!(-2.25));
        assert_eq!(
            j["component"][2]["valueQuantity"],
            json!({"value": 90, "unit": "degree", "system": UCUM, "code": "deg"})
        );
        assert_valid(&o);
        let left =
            create_eye_exam_observation("p1", &exam(EyeExamKind::Refraction, value, Eye::Left))
                .unwrap();
        let codes: Vec<String> = json_of(&left)["component"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"]["coding"][0]["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(codes, ["65894-8", "65896-3", "65895-5"]);
        let sphere_only = EyeExamValue::Refraction(Refraction {
            sphere: 1.0,
            cylinder: None,
            axis: None,
        });
        let o = create_eye_exam_observation(
            "p1",
            &exam(EyeExamKind::Refraction, sphere_only, Eye::Left),
        )
        .unwrap();
        assert_eq!(o.component.len(), 1);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let text = EyeExamValue::Text("high".into());
        assert!(matches!(
            create_eye_exam_observation(
                "p1",
                &exam(EyeExamKind::IntraocularPressure, text, Eye::Left)
            ),
            Err(EyeExamError::ValueKind { .. })
        ));
        let mut e = exam(
            EyeExamKind::IntraocularPressure,
            EyeExamValue::Number(15.0),
            Eye::Left,
        );
        e.date = "01/05/2024".into();
        assert!(matches!(
            create_eye_exam_observation("p1", &e),
            Err(EyeExamError::Date(_))
        ));
        assert!(matches!(
            create_eye_exam_observation(
                "bad id",
                &exam(
                    EyeExamKind::IntraocularPressure,
                    EyeExamValue::Number(15.0),
                    Eye::Left
                )
            ),
            Err(EyeExamError::PatientId(_))
        ));
        let axis = EyeExamValue::Refraction(Refraction {
            sphere: 1.0,
            cylinder: Some(-1.0),
            axis: Some(200),
        });
        assert!(matches!(
            create_eye_exam_observation("p1", &exam(EyeExamKind::Refraction, axis, Eye::Right)),
            Err(EyeExamError::OutOfRange(_))
        ));
        assert!(matches!(
            create_eye_exam_observation(
                "p1",
                &exam(
                    EyeExamKind::IntraocularPressure,
                    EyeExamValue::Number(f64::NAN),
                    Eye::Right
                )
            ),
            Err(EyeExamError::OutOfRange(_))
        ));
    }
}
