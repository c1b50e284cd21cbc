use super::*;
use serde_json::json;

fn p(text: &str) -> Pattern {
    Pattern::parse(text).unwrap()
}

#[test]
fn hl7_to_iso_keeps_precision_and_offset() {
    for (hl7, iso) in [
        ("2024", "2024"),
        ("202401", "2024-01"),
        ("20240131", "2024-01-31"),
        ("2024013112", "2024-01-31T12:00:00"),
        ("20240131123045.12-0500", "2024-01-31T12:30:45.12-05:00"),
        ("20240131123045+0000", "2024-01-31T12:30:45Z"),
    ] {
        assert_eq!(hl7_to_iso(&json!(hl7)).unwrap(), json!(iso), "{hl7}");
    }
    for bad in [
        "2024013",
        "20240230",
        "20241301",
        "20240131250000",
        "2024013112+05",
        "abcd",
    ] {
        assert!(hl7_to_iso(&json!(bad)).is_err(), "{bad}");
    }
}

#[test]
fn iso_to_hl7_and_back() {
    for iso in ["1980-01-31", "2024-01-31T12:30:45.5+05:30", "2024-02"] {
        let hl7 = iso_to_hl7(&json!(iso)).unwrap();
        assert_eq!(hl7_to_iso(&hl7).unwrap(), json!(iso), "{iso} via {hl7}");
    }
    assert_eq!(
        iso_to_hl7(&json!("2024-01-31T12:30:45Z")).unwrap(),
        json!("20240131123045+0000")
    );
    assert!(iso_to_hl7(&json!("31/01/2024")).is_err());
    assert!(iso_to_hl7(&json!("2024-01-31T12")).is_err());
}

#[test]
fn date_to_iso_reads_common_forms() {
    assert_eq!(
        to_iso(&json!("1/5/1980"), None).unwrap(),
        json!("1980-01-05")
    );
    assert_eq!(
        to_iso(&json!("19800105"), None).unwrap(),
        json!("1980-01-05")
    );
    assert_eq!(
        to_iso(&json!("1980-01-05"), None).unwrap(),
        json!("1980-01-05")
    );
    assert_eq!(
        to_iso(&json!("05.01.1980"), Some(&p("DD.MM.YYYY"))).unwrap(),
        json!("1980-01-05")
    );
    assert!(
        to_iso(&json!("02/30/1980"), None)
            .unwrap_err()
            .contains("calendar")
    );
    assert!(to_iso(&json!("1980-1-5"), None).is_err());
    assert!(to_iso(&json!("5.1.1980"), Some(&p("DD.MM.YYYY"))).is_err());
    assert_eq!(to_iso(&json!(""), None).unwrap(), Value::Null);
}

#[test]
fn date_from_iso_writes_the_pattern() {
    assert_eq!(
        from_iso(&json!("1980-01-05"), &p("MM/DD/YYYY")).unwrap(),
        json!("01/05/1980")
    );
    assert_eq!(
        from_iso(&json!("1980-01-05"), &p("M/D/YYYY")).unwrap(),
        json!("1/5/1980")
    );
    assert_eq!(
        from_iso(&json!("1980-01-05T07:08:09Z"), &p("YYYY-MM-DD HH:mm:ss")).unwrap(),
        json!("1980-01-05 07:08:09")
    );
    assert!(
        from_iso(&json!("1980"), &p("MM/DD/YYYY"))
            .unwrap_err()
            .contains("month")
    );
    assert!(
        Pattern::parse("MM/DD/YY")
            .unwrap_err()
            .contains("two-digit")
    );
    assert!(Pattern::parse("MM/DD").unwrap_err().contains("no year"));
}

#[test]
fn unix_seconds_both_ways() {
    assert_eq!(to_unix(&json!("1970-01-02")).unwrap(), json!(86_400));
    assert_eq!(
        to_unix(&json!("2000-01-01T01:00:00+01:00")).unwrap(),
        json!(946_684_800)
    );
    assert_eq!(
        from_unix(&json!(946_684_800)).unwrap(),
        json!("2000-01-01T00:00:00Z")
    );
    assert_eq!(
        from_unix(&json!("86400")).unwrap(),
        json!("1970-01-02T00:00:00Z")
    );
    assert!(to_unix(&json!("2000-01")).unwrap_err().contains("full day"));
    assert!(from_unix(&json!(1.5)).is_err());
    assert!(from_unix(&json!(i64::MAX)).is_err());
}
