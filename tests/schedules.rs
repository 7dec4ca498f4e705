//! Learning-rate schedules against PyTorch's `torch.optim.lr_scheduler`, step for step:
//! `tests/data/lr_schedules.json` holds the learning rates PyTorch set after construction
//! and after each step, written by `tests/data/lr_schedules.py`. Each schedule here is
//! started from the same base rate on a real optimiser and stepped as PyTorch was; every
//! value must agree to 1e-12. Then: invalid settings, all-or-nothing steps, saved states.

use recurrent::optim::{
    CosineAnnealingLR, ExponentialLR, OneCycleLR, PlateauMode, ReduceLROnPlateau, Schedule, ScheduleExt, StepLR,
    ThresholdMode,
};
use recurrent::prelude::*;
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lr_schedules.json"))
        .expect("tests/data/lr_schedules.json (run tests/data/lr_schedules.py)");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn int(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// The schedule a case describes, built through the public constructors.
fn schedule(case: &Value) -> Box<dyn Schedule> {
    let p = &case["params"];
    match case["kind"].as_str().expect("kind") {
        "StepLR" => Box::new(StepLR::new(int(p, "step_size"), num(p, "gamma")).unwrap()),
        "ExponentialLR" => Box::new(ExponentialLR::new(num(p, "gamma")).unwrap()),
        "CosineAnnealingLR" => {
            let s = CosineAnnealingLR::new(int(p, "t_max"), num(p, "eta_min")).unwrap();
            let s =
                if int(p, "warmup") > 0 { s.with_warmup(int(p, "warmup"), num(p, "start_factor")).unwrap() } else { s };
            Box::new(s)
        }
        "OneCycleLR" => Box::new(
            OneCycleLR::new(num(p, "max_lr"), int(p, "total_steps"))
                .unwrap()
                .with_pct_start(num(p, "pct_start"))
                .unwrap()
                .with_div_factor(num(p, "div_factor"))
                .unwrap()
                .with_final_div_factor(num(p, "final_div_factor"))
                .unwrap(),
        ),
        "ReduceLROnPlateau" => {
            let mode = if p["mode"] == "min" { PlateauMode::Min } else { PlateauMode::Max };
            let tm = if p["threshold_mode"] == "rel" { ThresholdMode::Rel } else { ThresholdMode::Abs };
            Box::new(
                ReduceLROnPlateau::new()
                    .mode(mode)
                    .factor(num(p, "factor"))
                    .unwrap()
                    .patience(int(p, "patience"))
                    .threshold(num(p, "threshold"), tm)
                    .unwrap()
                    .cooldown(int(p, "cooldown"))
                    .min_lr(num(p, "min_lr"))
                    .unwrap()
                    .eps(num(p, "eps"))
                    .unwrap(),
            )
        }
        other => panic!("unknown kind {other}"),
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= TOLERANCE
}

/// Every case, every step: the schedule's own value, and where the optimiser accepts it
/// (a rate > 0) the learning rate the optimiser ends up with.
#[test]
fn every_schedule_matches_pytorch_step_for_step() {
    let cases = cases();
    assert_eq!(cases.len(), 14, "the script's cases");
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let want: Vec<f64> = case["lrs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let metrics: Option<Vec<f64>> =
            case["metrics"].as_array().map(|m| m.iter().map(|v| v.as_f64().unwrap()).collect());
        let mut s = schedule(case);
        let mut opt = Sgd::<f64>::new(num(case, "base_lr"));
        s.start(&mut opt).unwrap();
        assert!(close(opt.learning_rate(), want[0]), "{name} t=0: {} vs PyTorch {}", opt.learning_rate(), want[0]);
        for (t, &w) in want.iter().enumerate().skip(1) {
            let metric = metrics.as_ref().map(|m| m[t - 1]);
            if w > 0.0 {
                match metric {
                    Some(m) => s.step_with(&mut opt, m).unwrap(),
                    None => s.step(&mut opt).unwrap(),
                }
                assert!(close(opt.learning_rate(), w), "{name} t={t}: {} vs PyTorch {w}", opt.learning_rate());
            } else {
                // A rate of 0 (the cosine at t_max with eta_min 0): the optimiser refuses it
                // and nothing changes; the schedule itself still computes PyTorch's value.
                let before = (s.state().unwrap(), opt.learning_rate());
                assert!(matches!(s.step(&mut opt), Err(Error::InvalidConfig { .. })), "{name} t={t}");
                assert_eq!(before, (s.state().unwrap(), opt.learning_rate()), "{name} t={t}: unchanged");
                let lr = s.advance(metric).unwrap();
                assert!(close(lr, w), "{name} t={t}: {lr} vs PyTorch {w}");
                opt.set_learning_rate(1.0).unwrap(); // the next value is computed from the schedule's own
            }
            assert_eq!(s.steps(), Some(t as u64), "{name}");
            assert!(close(s.current().unwrap(), w), "{name} t={t}");
        }
    }
}

/// An f32 optimiser's rate is the base as it holds it (0.1f32 read as f64), and gets each
/// f64 value rounded once.
#[test]
fn an_f32_optimiser_gets_the_rounded_value() {
    let mut s = ExponentialLR::new(0.9).unwrap();
    let mut opt = Adam::<f32>::new(0.1);
    s.start(&mut opt).unwrap();
    for _ in 0..5 {
        s.step(&mut opt).unwrap();
    }
    assert_eq!(opt.learning_rate(), s.current().unwrap() as f32);
    assert!(close(s.current().unwrap(), f64::from(0.1f32) * 0.9f64.powi(5)));
    assert!(!close(s.current().unwrap(), 0.1 * 0.9f64.powi(5)), "the base is the f32 rate, not 0.1");
}

#[test]
fn invalid_settings_name_the_field_and_value() {
    let msg = |e: Error| e.to_string();
    let cases: Vec<(Error, &str, &str)> = vec![
        (StepLR::new(0, 0.5).unwrap_err(), "step_size", "0"),
        (StepLR::new(2, -0.5).unwrap_err(), "gamma", "-0.5"),
        (StepLR::new(2, f64::NAN).unwrap_err(), "gamma", "NaN"),
        (ExponentialLR::new(f64::INFINITY).unwrap_err(), "gamma", "inf"),
        (CosineAnnealingLR::new(0, 0.0).unwrap_err(), "t_max", "0"),
        // 2·t_max must fit the i64 step arithmetic (it panicked at 2⁶³ before).
        (CosineAnnealingLR::new(1 << 63, 0.0).unwrap_err(), "t_max", "9223372036854775808"),
        (CosineAnnealingLR::new(5, -1.0).unwrap_err(), "eta_min", "-1"),
        (CosineAnnealingLR::new(5, 0.0).unwrap().with_warmup(3, 0.0).unwrap_err(), "start_factor", "0"),
        (OneCycleLR::new(0.1, 0).unwrap_err(), "total_steps", "0"),
        (OneCycleLR::new(-0.1, 10).unwrap_err(), "max_lr", "-0.1"),
        (OneCycleLR::new(0.1, 10).unwrap().with_pct_start(1.5).unwrap_err(), "pct_start", "1.5"),
        (OneCycleLR::new(0.1, 10).unwrap().with_pct_start(0.1).unwrap_err(), "pct_start", "0.1"),
        (OneCycleLR::new(0.1, 10).unwrap().with_div_factor(0.0).unwrap_err(), "div_factor", "0"),
        (ReduceLROnPlateau::new().factor(-0.1).unwrap_err(), "factor", "-0.1"),
        (ReduceLROnPlateau::new().factor(1.0).unwrap_err(), "factor", "1"),
        (ReduceLROnPlateau::new().factor(f64::NAN).unwrap_err(), "factor", "NaN"),
        (ReduceLROnPlateau::new().threshold(-1.0, ThresholdMode::Abs).unwrap_err(), "threshold", "-1"),
        (ReduceLROnPlateau::new().min_lr(f64::NAN).unwrap_err(), "min_lr", "NaN"),
        (ReduceLROnPlateau::new().eps(-1e-9).unwrap_err(), "eps", "-0.000000001"),
    ];
    for (e, field, value) in cases {
        assert!(matches!(e, Error::InvalidConfig { .. }), "{e:?}");
        let m = msg(e);
        assert!(m.contains(field) && m.contains(value), "{m:?} names {field} and {value}");
    }
}

#[test]
fn steps_are_all_or_nothing() {
    let mut opt = Sgd::<f64>::new(0.1);
    // Not started.
    let mut s = StepLR::new(1, 0.5).unwrap();
    let e = s.step(&mut opt).unwrap_err();
    assert!(e.to_string().contains("start"), "{e}");
    assert_eq!((s.steps(), opt.learning_rate()), (None, 0.1));
    // A plateau schedule without its value, or with NaN.
    let mut p = ReduceLROnPlateau::new().patience(0);
    p.start(&mut opt).unwrap();
    assert!(matches!(p.step(&mut opt), Err(Error::InvalidConfig { .. })));
    assert!(p.step_with(&mut opt, f64::NAN).unwrap_err().to_string().contains("NaN"));
    assert_eq!(p.steps(), Some(0));
    // One-cycle past its end.
    let mut c = OneCycleLR::new(0.1, 4).unwrap().with_pct_start(0.5).unwrap();
    c.start(&mut opt).unwrap();
    for _ in 0..4 {
        c.step(&mut opt).unwrap();
    }
    let lr = opt.learning_rate();
    let e = c.step(&mut opt).unwrap_err();
    assert!(e.to_string().contains("total_steps = 4") && e.to_string().contains("step 5"), "{e}");
    assert_eq!((c.steps(), opt.learning_rate()), (Some(4), lr));
}

/// A state saved mid-way and loaded into a fresh schedule with the same settings continues
/// with the same values; one with other settings is refused.
#[test]
fn saved_states_continue_and_refuse_other_settings() {
    let mut a = CosineAnnealingLR::new(6, 0.01).unwrap().with_warmup(2, 0.2).unwrap();
    let mut opt = Adam::<f64>::new(0.1);
    a.start(&mut opt).unwrap();
    for _ in 0..4 {
        a.step(&mut opt).unwrap();
    }
    let saved = a.state().unwrap();
    let mut b = CosineAnnealingLR::new(6, 0.01).unwrap().with_warmup(2, 0.2).unwrap();
    b.load_state(saved.clone()).unwrap();
    for _ in 0..10 {
        assert_eq!(a.advance(None).unwrap(), b.advance(None).unwrap());
    }
    let mut other = CosineAnnealingLR::new(7, 0.01).unwrap();
    let e = other.load_state(saved).unwrap_err();
    assert!(e.to_string().contains("settings"), "{e}");
    assert_eq!(other.steps(), None, "unchanged");
    assert!(matches!(StepLR::new(1, 0.5).unwrap().load_state(Value::from(3)), Err(Error::Format { .. })));
}
