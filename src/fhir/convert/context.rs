//! What one conversion carries along: the options, the Bundle entries made so far, and the
//! `urn:uuid:` of the Patient and Encounter that later resources point at.

use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::datetime;
use super::error::ConvertError;
use crate::hl7::{Segment, Value};

/// How the converter fills in what HL7 v2 leaves open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Prefix for identifier and code systems that are names rather than OIDs or URIs (CX-4
    /// `RGH` → `urn:id:RGH`, coding system `99RGH` → `urn:id:99RGH`). Default `urn:id:`.
    pub local_system_prefix: String,
    /// The offset given to HL7 timestamps that carry a time but no offset, since FHIR requires
    /// one: `Z` (the default) or `+HH:MM`/`-HH:MM`, the sender's local offset.
    pub assumed_offset: String,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            local_system_prefix: "urn:id:".to_owned(),
            assumed_offset: "Z".to_owned(),
        }
    }
}

/// One segment with the label errors use (`OBX[3]`: the third OBX of the message).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg<'a> {
    pub seg: Segment<'a>,
    /// 1-based occurrence of this segment name in the message.
    pub occurrence: usize,
}

impl<'a> Seg<'a> {
    /// Field `n`.
    pub fn field(&self, n: usize) -> Value<'a> {
        self.seg.field(n)
    }

    /// The trimmed text of field `n`, or `None` when it is empty.
    pub fn text(&self, n: usize) -> Option<String> {
        super::datatypes::text(self.seg.field(n))
    }

    /// `PID-7`, or `OBX[3]-14` past the first occurrence: where a value came from.
    pub fn at(&self, n: usize) -> String {
        match self.occurrence {
            1 => format!("{}-{n}", self.seg.name()),
            k => format!("{}[{k}]-{n}", self.seg.name()),
        }
    }

    /// The segment name.
    pub fn name(&self) -> &'a str {
        self.seg.name()
    }
}

/// The conversion in progress.
pub(crate) struct Context<'o> {
    pub options: &'o ConvertOptions,
    entries: Vec<Json>,
    /// `urn:uuid:` of the Patient, once converted.
    pub patient: Option<String>,
    /// `urn:uuid:` of the Encounter, once converted.
    pub encounter: Option<String>,
}

impl<'o> Context<'o> {
    pub fn new(options: &'o ConvertOptions) -> Self {
        Context {
            options,
            entries: Vec::new(),
            patient: None,
            encounter: None,
        }
    }

    /// Adds a resource as a `POST` entry and returns its `urn:uuid:` full URL.
    pub fn add(&mut self, resource: Json) -> String {
        self.add_conditional(resource, None)
    }

    /// Adds a resource as a `POST` entry, conditional on `if_none_exist` (a search query such as
    /// `identifier=urn:oid:1.2|123`) so that sending the same data twice creates it once.
    pub fn add_conditional(&mut self, resource: Json, if_none_exist: Option<String>) -> String {
        let full_url = format!("urn:uuid:{}", Uuid::new_v4());
        let kind = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut request = json!({ "method": "POST", "url": kind });
        if let Some(query) = if_none_exist {
            request["ifNoneExist"] = query.into();
        }
        self.entries.push(json!({
            "fullUrl": full_url,
            "resource": resource,
            "request": request,
        }));
        full_url
    }

    /// `{"reference": <patient>}`, for `subject`/`patient` elements.
    pub fn patient_ref(&self) -> Option<Json> {
        self.patient.as_ref().map(|r| json!({ "reference": r }))
    }

    /// `{"reference": <encounter>}`.
    pub fn encounter_ref(&self) -> Option<Json> {
        self.encounter.as_ref().map(|r| json!({ "reference": r }))
    }

    /// Sets `subject` (or another key) and `encounter` on a resource where known.
    pub fn link(&self, resource: &mut Json, subject_key: &str, encounter_key: Option<&str>) {
        if let Some(subject) = self.patient_ref() {
            resource[subject_key] = subject;
        }
        if let (Some(key), Some(encounter)) = (encounter_key, self.encounter_ref()) {
            resource[key] = encounter;
        }
    }

    /// Field `n` as a FHIR `dateTime`; an error naming the field when it is not a timestamp.
    pub fn date_time(&self, seg: &Seg<'_>, n: usize) -> Result<Option<String>, ConvertError> {
        self.convert_time(seg, n, |v| {
            datetime::to_date_time(v, &self.options.assumed_offset)
        })
    }

    /// Field `n` as a FHIR `instant` (seconds and offset filled in).
    pub fn instant(&self, seg: &Seg<'_>, n: usize) -> Result<Option<String>, ConvertError> {
        self.convert_time(seg, n, |v| {
            datetime::to_instant(v, &self.options.assumed_offset)
        })
    }

    /// Field `n` as a FHIR `date`.
    pub fn date(&self, seg: &Seg<'_>, n: usize) -> Result<Option<String>, ConvertError> {
        self.convert_time(seg, n, datetime::to_date)
    }

    fn convert_time(
        &self,
        seg: &Seg<'_>,
        n: usize,
        convert: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<String>, ConvertError> {
        // DTM in a TS field: the time is the first component (TS-2 is a precision code).
        let Some(raw) = super::datatypes::text(seg.field(n).component(1)) else {
            return Ok(None);
        };
        convert(&raw)
            .map(Some)
            .ok_or_else(|| ConvertError::Invalid {
                location: seg.at(n),
                value: raw,
                reason: "not an HL7 date/time (YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ])".to_owned(),
            })
    }

    /// The finished transaction Bundle.
    pub fn into_bundle(self) -> Json {
        json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": self.entries,
        })
    }
}
