//! A message as JSON, for people and scripts: every level is an array, so the shape never
//! depends on the data. `fields[0]` is field 1; each field is a list of repetitions, each
//! repetition a list of components, each component a list of subcomponents (decoded strings).

use serde_json::{Value as Json, json};

use super::message::Message;
use super::value::Value;

/// The message as `{"message_type", "trigger_event", "control_id", "version", "segments": [{"name",
/// "fields": [[[["sub"]]]]}]}`.
pub fn to_json(message: &Message<'_>) -> Json {
    let segments: Vec<Json> = message
        .segments()
        .map(|seg| {
            let header = matches!(seg.name(), "MSH" | "FHS" | "BHS");
            let fields: Vec<Json> = seg
                .fields()
                .enumerate()
                .map(|(i, field)| {
                    if header && i < 2 {
                        json!([[[field.text()]]])
                    } else {
                        field_json(field)
                    }
                })
                .collect();
            json!({ "name": seg.name(), "fields": fields })
        })
        .collect();
    json!({
        "message_type": message.message_type(),
        "trigger_event": message.trigger_event(),
        "control_id": message.control_id(),
        "version": message.version(),
        "segments": segments,
    })
}

fn field_json(field: Value<'_>) -> Json {
    Json::Array(
        field
            .repetitions()
            .map(|rep| {
                Json::Array(
                    rep.components()
                        .map(|comp| {
                            Json::Array(
                                comp.subcomponents()
                                    .map(|sub| Json::String(sub.text().into_owned()))
                                    .collect(),
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_is_an_array() {
        let m =
            Message::parse(b"MSH|^~\\&|A||||||ADT^A01|7|P|2.5\rPID|1||1^^^H&2.16&ISO~9||A\\S\\B")
                .unwrap();
        let j = to_json(&m);
        assert_eq!(j["control_id"], "7");
        assert_eq!(j["segments"][0]["fields"][0], json!([[["|"]]]));
        assert_eq!(j["segments"][0]["fields"][1], json!([[["^~\\&"]]]));
        assert_eq!(j["segments"][0]["fields"][8], json!([[["ADT"], ["A01"]]]));
        let pid3 = &j["segments"][1]["fields"][2];
        assert_eq!(pid3[0][3], json!(["H", "2.16", "ISO"]));
        assert_eq!(pid3[1], json!([["9"]]));
        assert_eq!(j["segments"][1]["fields"][4], json!([[["A^B"]]]));
    }
}
