//! SIU S12–S26: SCH with its AIS/AIG/AIL/AIP resources → Appointment.

use serde_json::{Map, Value as Json, json};

use super::context::{Context, Seg};
use super::datatypes::{codeable_concept, entity_identifier, location_display, practitioner, text};
use super::datetime;
use super::error::ConvertError;

/// What an SIU message says about one appointment.
#[derive(Default)]
pub(crate) struct Schedule<'a> {
    pub sch: Option<Seg<'a>>,
    pub notes: Vec<String>,
    pub services: Vec<Seg<'a>>,
    pub locations: Vec<Seg<'a>>,
    pub people: Vec<Seg<'a>>,
    pub general: Vec<Seg<'a>>,
    pub tq1: Option<Seg<'a>>,
}

/// SCH-25 filler status (table 0278) → Appointment.status.
fn filler_status(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_lowercase().as_str() {
        "booked" | "overbook" | "blocked" => "booked",
        "pending" => "pending",
        "cancelled" | "dc" => "cancelled",
        "complete" => "fulfilled",
        "noshow" => "noshow",
        "waitlist" => "waitlist",
        "started" => "arrived",
        "deleted" => "entered-in-error",
        _ => return None,
    })
}

/// The status the SIU event gives, with SCH-25 deciding where the event does not.
fn status(event: &str, sch: &Seg<'_>) -> &'static str {
    match event {
        "S12" | "S13" => "booked",
        "S15" | "S16" => "cancelled",
        "S17" => "entered-in-error",
        "S26" => "noshow",
        _ => text(sch.field(25).component(1))
            .as_deref()
            .and_then(filler_status)
            .unwrap_or("booked"),
    }
}

/// A duration in minutes from an amount and a unit (CWE: `min`, `h`, `s`, `d`).
fn minutes(amount: Option<String>, unit: Option<String>) -> Option<i64> {
    let amount: f64 = amount?.parse().ok()?;
    let factor = match unit
        .unwrap_or_else(|| "min".to_owned())
        .to_ascii_lowercase()
        .as_str()
    {
        "min" | "m" | "minute" | "minutes" => 1.0,
        "h" | "hr" | "hour" | "hours" => 60.0,
        "s" | "sec" => 1.0 / 60.0,
        "d" | "day" => 1440.0,
        _ => return None,
    };
    Some((amount * factor).round() as i64)
}

/// `YYYY…` + minutes → an HL7 timestamp that many minutes later (same offset), for end times
/// given as a start and a duration.
fn add_minutes(fhir_instant: &str, minutes: i64) -> Option<String> {
    let format = time::format_description::well_known::Rfc3339;
    let start = time::OffsetDateTime::parse(fhir_instant, &format).ok()?;
    (start + time::Duration::minutes(minutes))
        .format(&format)
        .ok()
}

/// The Appointment for an SIU message.
pub(crate) fn convert_schedule(
    schedule: &Schedule<'_>,
    event: &str,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let Some(sch) = &schedule.sch else {
        return Ok(());
    };
    let options = cx.options;
    let mut appointment = Map::new();
    appointment.insert("resourceType".into(), "Appointment".into());
    let ids: Vec<Json> = [(1, "PLAC"), (2, "FILL")]
        .into_iter()
        .filter_map(|(n, kind)| entity_identifier(sch.field(n), Some(kind), options))
        .collect();
    if !ids.is_empty() {
        appointment.insert("identifier".into(), ids.into());
    }
    appointment.insert("status".into(), status(event, sch).into());
    if let Some(service) = schedule
        .services
        .iter()
        .find_map(|ais| codeable_concept(ais.field(3), options))
    {
        appointment.insert("serviceType".into(), json!([service]));
    }
    if let Some(kind) = codeable_concept(sch.field(8), options) {
        appointment.insert("appointmentType".into(), kind);
    }
    if let Some(reason) = codeable_concept(sch.field(7), options) {
        appointment.insert("reasonCode".into(), json!([reason]));
    }
    // Start and end: SCH-11 (TQ, up to v2.5), TQ1-7/8, else the first AIS start + duration.
    let tq_time = |component: usize| -> Result<Option<String>, ConvertError> {
        let Some(raw) = text(sch.field(11).component(component)) else {
            return Ok(None);
        };
        datetime::to_instant(&raw, &options.assumed_offset)
            .map(Some)
            .ok_or_else(|| ConvertError::Invalid {
                location: format!("{}.{component}", sch.at(11)),
                value: raw,
                reason: "not an HL7 date/time".to_owned(),
            })
    };
    let mut start = tq_time(4)?;
    let mut end = tq_time(5)?;
    if start.is_none()
        && let Some(tq1) = &schedule.tq1
    {
        start = cx.instant(tq1, 7)?;
        end = cx.instant(tq1, 8)?;
    }
    let mut duration = minutes(sch.text(9), text(sch.field(10).component(1)));
    if start.is_none()
        && let Some(ais) = schedule.services.first()
    {
        start = cx.instant(ais, 4)?;
        duration = duration.or_else(|| minutes(ais.text(7), text(ais.field(8).component(1))));
    }
    if end.is_none()
        && let (Some(start), Some(duration)) = (&start, duration)
    {
        end = add_minutes(start, duration);
    }
    if let Some(start) = start {
        appointment.insert("start".into(), start.into());
    }
    if let Some(end) = end {
        appointment.insert("end".into(), end.into());
    }
    if let Some(duration) = duration.filter(|d| *d > 0) {
        appointment.insert("minutesDuration".into(), duration.into());
    }
    if !schedule.notes.is_empty() {
        appointment.insert("comment".into(), schedule.notes.join("\n").into());
    }
    let mut participants = Vec::new();
    if let Some(patient) = cx.patient_ref() {
        participants.push(json!({ "actor": patient, "status": "accepted" }));
    }
    for aip in &schedule.people {
        for xcn in aip.field(3).repetitions() {
            if let Some(actor) = practitioner(xcn, options) {
                let mut p = json!({ "actor": actor, "status": "accepted", "required": "required" });
                if let Some(role) = codeable_concept(aip.field(4), options) {
                    p["type"] = json!([role]);
                }
                participants.push(p);
            }
        }
    }
    for ail in &schedule.locations {
        if let Some(display) = location_display(ail.field(3)) {
            participants.push(json!({ "actor": { "display": display }, "status": "accepted", "required": "required" }));
        }
    }
    for aig in &schedule.general {
        if let Some(display) =
            text(aig.field(3).component(2)).or_else(|| text(aig.field(3).component(1)))
        {
            participants.push(json!({ "actor": { "display": display }, "status": "accepted" }));
        }
    }
    if participants.is_empty() {
        return Err(ConvertError::MissingSegment {
            segment: "PID",
            needed_for: "an Appointment needs a participant (patient, AIP, AIL or AIG)",
        });
    }
    appointment.insert("participant".into(), participants.into());
    cx.add(Json::Object(appointment));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_end_times() {
        assert_eq!(minutes(Some("30".into()), Some("min".into())), Some(30));
        assert_eq!(minutes(Some("1.5".into()), Some("h".into())), Some(90));
        assert_eq!(minutes(Some("x".into()), None), None);
        assert_eq!(
            add_minutes("2025-04-02T09:30:00-05:00", 30).as_deref(),
            Some("2025-04-02T10:00:00-05:00")
        );
    }
}
