//! One pass over the message's segments, in order, handing each to its converter: PID starts a
//! patient, PV1 an encounter, ORC/OBR an order group, SCH an appointment, TXA a document.

use serde_json::Value as Json;

use super::context::{Context, ConvertOptions, Seg};
use super::error::ConvertError;
use super::{appointment, clinical, document, encounter, orders, patient, results};
use crate::hl7::Message;

/// What the message type makes of ORC/OBR/OBX groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// ORU, OUL: DiagnosticReport + Observations.
    Results,
    /// ORM, OML, OMG: ServiceRequest.
    Orders,
    /// SIU: Appointment.
    Scheduling,
    /// MDM: DocumentReference.
    Documents,
    /// ADT and the rest: patient, encounter, allergies, diagnoses, loose observations.
    Other,
}

impl Family {
    fn of(message_type: &str) -> Family {
        match message_type {
            "ORU" | "OUL" => Family::Results,
            "ORM" | "OML" | "OMG" => Family::Orders,
            "SIU" => Family::Scheduling,
            "MDM" => Family::Documents,
            _ => Family::Other,
        }
    }
}

/// ORC, OBR (+ TQ1, SPM), their OBX with the NTE that follow each, and the NTE after the OBR.
#[derive(Default)]
pub(crate) struct OrderGroup<'a> {
    pub orc: Option<Seg<'a>>,
    pub obr: Option<Seg<'a>>,
    pub tq1: Option<Seg<'a>>,
    pub notes: Vec<String>,
    pub observations: Vec<(Seg<'a>, Vec<String>)>,
    pub specimens: Vec<Seg<'a>>,
}

impl OrderGroup<'_> {
    fn is_empty(&self) -> bool {
        self.orc.is_none() && self.obr.is_none() && self.observations.is_empty()
    }
}

/// The segments of `msg`, each labelled with its occurrence number.
fn labelled<'a>(msg: &Message<'a>) -> Vec<Seg<'a>> {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    msg.segments()
        .map(|seg| {
            let name = seg.name();
            let occurrence = match seen.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    seen.push((name, 1));
                    1
                }
            };
            Seg { seg, occurrence }
        })
        .collect()
}

/// Converts one message into a transaction Bundle.
pub(crate) fn convert(msg: &Message<'_>, options: &ConvertOptions) -> Result<Json, ConvertError> {
    let message_type = msg.message_type().into_owned();
    let event = msg.trigger_event().into_owned();
    let family = Family::of(&message_type);
    let segs = labelled(msg);
    let has = |name: &str| segs.iter().any(|s| s.name() == name);
    match family {
        Family::Other if !has("PID") && message_type == "ADT" => {
            return Err(ConvertError::MissingSegment {
                segment: "PID",
                needed_for: "an ADT message converts to a Patient",
            });
        }
        Family::Other if !has("PID") => {
            return Err(ConvertError::Unsupported {
                message_type: format!("{message_type}^{event}"),
            });
        }
        Family::Scheduling if !has("SCH") => {
            return Err(ConvertError::MissingSegment {
                segment: "SCH",
                needed_for: "an SIU message converts to an Appointment",
            });
        }
        Family::Documents if !has("TXA") => {
            return Err(ConvertError::MissingSegment {
                segment: "TXA",
                needed_for: "an MDM message converts to a DocumentReference",
            });
        }
        _ => {}
    }

    let mut cx = Context::new(options);
    let mut group = OrderGroup::default();
    let mut schedule = appointment::Schedule::default();
    let mut txa = None;
    let mut previous = "";
    for (i, seg) in segs.iter().enumerate() {
        let name = seg.name();
        match name {
            "PID" => {
                flush(&mut group, family, &mut cx)?;
                cx.encounter = None;
                patient::convert_pid(seg, &mut cx)?;
            }
            "PV1" => {
                let pv2 = segs.get(i + 1).filter(|s| s.name() == "PV2");
                encounter::convert_pv1(seg, pv2, &message_type, &event, &mut cx)?;
            }
            "NK1" => patient::convert_nk1(seg, &mut cx)?,
            "AL1" => clinical::convert_al1(seg, &mut cx)?,
            "DG1" => clinical::convert_dg1(seg, &mut cx)?,
            "ORC" => {
                flush(&mut group, family, &mut cx)?;
                group.orc = Some(*seg);
            }
            "OBR" => {
                if group.obr.is_some() || (group.orc.is_none() && !group.observations.is_empty()) {
                    flush(&mut group, family, &mut cx)?;
                }
                group.obr = Some(*seg);
            }
            "TQ1" if family == Family::Scheduling => schedule.tq1 = Some(*seg),
            "TQ1" if group.tq1.is_none() => group.tq1 = Some(*seg),
            "OBX" => group.observations.push((*seg, Vec::new())),
            "SPM" => group.specimens.push(*seg),
            "NTE" => {
                let Some(note) = seg.text(3) else { continue };
                match previous {
                    "SCH" | "AIS" | "AIG" | "AIL" | "AIP" => schedule.notes.push(note),
                    _ if !group.observations.is_empty() => {
                        if let Some((_, notes)) = group.observations.last_mut() {
                            notes.push(note);
                        }
                    }
                    _ if !group.is_empty() => group.notes.push(note),
                    _ => {}
                }
                continue;
            }
            "SCH" => schedule.sch = Some(*seg),
            "AIS" => schedule.services.push(*seg),
            "AIL" => schedule.locations.push(*seg),
            "AIP" => schedule.people.push(*seg),
            "AIG" => schedule.general.push(*seg),
            "TXA" => txa = Some(*seg),
            _ => {}
        }
        previous = name;
    }
    if family == Family::Documents {
        if let Some(txa) = &txa {
            let content: Vec<Seg<'_>> = group.observations.iter().map(|(obx, _)| *obx).collect();
            document::convert_document(txa, &content, &event, &mut cx)?;
        }
    } else {
        flush(&mut group, family, &mut cx)?;
    }
    if family == Family::Scheduling {
        appointment::convert_schedule(&schedule, &event, &mut cx)?;
    }
    Ok(cx.into_bundle())
}

/// Converts the open order group, if any, and starts a new one.
fn flush(
    group: &mut OrderGroup<'_>,
    family: Family,
    cx: &mut Context<'_>,
) -> Result<(), ConvertError> {
    let group = std::mem::take(group);
    if group.is_empty() {
        return Ok(());
    }
    match family {
        Family::Results => results::convert_report(&group, cx),
        Family::Orders => orders::convert_order(&group, cx),
        _ => results::convert_observations(&group, None, None, cx).map(|_| ()),
    }
}
