//! Lambda schedules: the paper's values, constants, warm start, and refusal of bad parameters.

use shift_grl::{LambdaSchedule, ScheduleError};

#[test]
fn paper_schedule_values() {
    let s = LambdaSchedule::Paper { gamma: 10.0 };
    assert_eq!(s.value(0.0), 0.0);
    assert!((s.value(0.1) - 0.46212).abs() < 5e-6, "{}", s.value(0.1));
    assert!((s.value(1.0) - 0.99991).abs() < 5e-6, "{}", s.value(1.0));
    assert_eq!(s.value(-1.0), 0.0, "progress is clamped to [0, 1]");
    assert_eq!(s.value(2.0), s.value(1.0));
    assert_eq!(LambdaSchedule::default(), s);
}

#[test]
fn constant_and_warm_start() {
    assert_eq!(LambdaSchedule::Constant { value: 0.3 }.value(0.77), 0.3);
    let w = LambdaSchedule::WarmStart {
        lo: 0.1,
        hi: 0.5,
        gamma: 10.0,
    };
    assert!((w.value(0.0) - 0.1).abs() < 1e-15);
    let paper = LambdaSchedule::Paper { gamma: 10.0 };
    assert!((w.value(0.1) - (0.1 + 0.4 * paper.value(0.1))).abs() < 1e-15);
    assert!(w.value(1.0) < 0.5 && w.value(1.0) > 0.4999);
}

#[test]
fn bad_parameters_are_refused_naming_the_field() {
    let e = LambdaSchedule::Paper { gamma: -1.0 }.validate().unwrap_err();
    assert_eq!(
        e,
        ScheduleError::Negative {
            field: "gamma",
            value: -1.0
        }
    );
    assert!(e.to_string().contains("`gamma`"));
    let e = LambdaSchedule::Constant { value: f64::NAN }.validate().unwrap_err();
    assert!(matches!(e, ScheduleError::Negative { field: "value", .. }));
    let e = LambdaSchedule::WarmStart {
        lo: 0.9,
        hi: 0.1,
        gamma: 10.0,
    }
    .validate()
    .unwrap_err();
    assert_eq!(e, ScheduleError::Inverted { lo: 0.9, hi: 0.1 });
    assert!(LambdaSchedule::WarmStart {
        lo: 0.0,
        hi: 1.0,
        gamma: 10.0
    }
    .validate()
    .is_ok());
}

#[test]
fn serialises_with_a_kind_tag() {
    let s = LambdaSchedule::WarmStart {
        lo: 0.0,
        hi: 1.0,
        gamma: 10.0,
    };
    let j = serde_json::to_string(&s).unwrap();
    assert_eq!(j, r#"{"kind":"warm_start","lo":0.0,"hi":1.0,"gamma":10.0}"#);
    assert_eq!(serde_json::from_str::<LambdaSchedule>(&j).unwrap(), s);
}
