//! The strong methods' losses against their published formulas: VADA's conditional entropy and virtual
//! adversarial loss, DIRT-T's trust region, self-ensembling's consistency and class balance, SHOT's smoothed
//! label loss, information maximisation and pseudo-labels, each against the PyTorch fixture beside its script
//! (`fixtures/<method>/`), to 1e-10 in double precision.

mod common;

use common::{fixture, max_diff, tensor};
use shift_strategies::methods::self_ensembling::{class_balance, consistency};
use shift_strategies::methods::shot::{information_maximisation, pseudo_labels, smoothed_cross_entropy};
use shift_strategies::methods::vat::{conditional_entropy, kl_from_clean, vat_loss};
use shift_tensor::tch::{Kind, Tensor};

const TOL: f64 = 1e-10;

fn value(t: &Tensor) -> f64 {
    t.double_value(&[])
}

fn close(what: &str, got: &Tensor, want: f64) {
    assert!((value(got) - want).abs() < TOL, "{what}: {} vs {want}", value(got));
}

fn grad_close(what: &str, got: &Tensor, want: &serde_json::Value) {
    let d = max_diff(got, &tensor(want));
    assert!(d < TOL, "{what}: gradient differs by {d}");
}

#[test]
fn vada_entropy_and_vat_match_the_fixture() {
    let fx = fixture("vada");
    let x = tensor(&fx["x"]);
    let d0 = tensor(&fx["d0"]);
    let w1 = tensor(&fx["w1"]).set_requires_grad(true);
    let (b1, w2, b2) = (tensor(&fx["b1"]), tensor(&fx["w2"]), tensor(&fx["b2"]));
    let h = |v: &Tensor| (v.mm(&w1.tr()) + &b1).relu().mm(&w2.tr()) + &b2;
    let logits = h(&x);

    let ent = conditional_entropy(&logits);
    close("entropy", &ent, fx["entropy"].as_f64().unwrap());
    let g = Tensor::run_backward(&[&ent], &[&w1], true, false);
    grad_close("entropy", &g[0], &fx["grad_w1_entropy"]);

    let (xi, eps) = (fx["xi"].as_f64().unwrap(), fx["eps"].as_f64().unwrap());
    let vat = vat_loss(&h, &x, &logits, &d0, xi, eps).unwrap();
    close("vat", &vat, fx["vat"].as_f64().unwrap());
    let g = Tensor::run_backward(&[&vat], &[&w1], false, false);
    grad_close("vat", &g[0], &fx["grad_w1_vat"]);
}

#[test]
fn vat_refuses_a_direction_of_another_shape() {
    let x = Tensor::zeros([3, 2], (Kind::Double, shift_tensor::tch::Device::Cpu));
    let e = vat_loss(&|v: &Tensor| v.shallow_clone(), &x, &x, &x.narrow(0, 0, 2), 1e-6, 1.0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the random direction has shape [2, 2], the inputs [3, 2]"),
        "{e}"
    );
}

#[test]
fn dirt_t_trust_region_matches_the_fixture() {
    let fx = fixture("dirt-t");
    let t = tensor(&fx["teacher"]);
    let s = tensor(&fx["student"]).set_requires_grad(true);
    let kl = kl_from_clean(&t, &s);
    close("kl", &kl, fx["kl"].as_f64().unwrap());
    let (beta, lt) = (fx["beta"].as_f64().unwrap(), fx["target_weight"].as_f64().unwrap());
    let loss = &kl * beta + conditional_entropy(&s) * lt;
    close("loss", &loss, fx["loss"].as_f64().unwrap());
    loss.backward();
    grad_close("loss", &s.grad(), &fx["grad_student"]);
    // The teacher is held fixed: no gradient reaches it.
    let t2 = tensor(&fx["teacher"]).set_requires_grad(true);
    let k2 = kl_from_clean(&t2, &tensor(&fx["student"]));
    assert!(!k2.requires_grad(), "the teacher's logits must carry no gradient");
}

#[test]
fn self_ensembling_consistency_and_balance_match_the_fixture() {
    let fx = fixture("self-ensembling");
    let t = tensor(&fx["teacher"]);
    let s = tensor(&fx["student"]).set_requires_grad(true);
    let conf = fx["confidence"].as_f64().unwrap();
    let (cons, mask) = consistency(&s, &t, conf);
    assert_eq!(max_diff(&mask, &tensor(&fx["mask"])), 0.0);
    close("consistency", &cons, fx["consistency"].as_f64().unwrap());
    let bal = class_balance(&s);
    close("balance", &bal, fx["balance"].as_f64().unwrap());
    let (w, b) = (
        fx["unsup_weight"].as_f64().unwrap(),
        fx["class_balance"].as_f64().unwrap(),
    );
    let loss = (cons + bal * mask.mean(Kind::Double) * b) * w;
    close("loss", &loss, fx["loss"].as_f64().unwrap());
    loss.backward();
    grad_close("loss", &s.grad(), &fx["grad_student"]);
}

#[test]
fn shot_losses_and_pseudo_labels_match_the_fixture() {
    let fx = fixture("shot");
    let y = Tensor::from_slice(
        &fx["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>(),
    );
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let ce = smoothed_cross_entropy(&z, &y, fx["eps"].as_f64().unwrap());
    close("smoothed CE", &ce, fx["smoothed_ce"].as_f64().unwrap());
    ce.backward();
    grad_close("smoothed CE", &z.grad(), &fx["grad_smoothed_ce"]);

    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let im = information_maximisation(&z);
    close("IM", &im, fx["im"].as_f64().unwrap());
    im.backward();
    grad_close("IM", &z.grad(), &fx["grad_im"]);

    let labels = pseudo_labels(
        &tensor(&fx["features"]),
        &tensor(&fx["logits"]).softmax(1, Kind::Double),
    );
    let want: Vec<i64> = fx["pseudo_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let first: Vec<i64> = fx["first_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    // The fixture's refinement round moves some labels, so a missing round would fail here.
    assert_ne!(want, first);
    assert_eq!(Vec::<i64>::try_from(&labels).unwrap(), want);
}

/// The teacher copies the student exactly, averages into it by `decay`, is frozen, and lives under `teacher.`.
#[test]
fn the_teacher_copies_and_averages_the_student() {
    use shift_models::{digit_bn::DigitBnNet, AdaptNet};
    use shift_strategies::methods::teacher::Teacher;
    let net = DigitBnNet::new(shift_tensor::tch::Device::Cpu);
    let teacher = Teacher::new(&net, "test").unwrap();
    let vars = net.var_store().variables();
    let w = &vars["classifier.0.weight"];
    let t = &vars["teacher.classifier.0.weight"];
    assert_eq!(max_diff(w, t), 0.0, "a fresh teacher is a copy");
    assert!(!t.requires_grad(), "the teacher is frozen");
    let before = t.copy();
    shift_tensor::tch::no_grad(|| {
        let mut w = w.shallow_clone();
        let _ = w.g_add_scalar_(1.0);
    });
    teacher.average_student(0.75);
    let want = &before * 0.75 + w * 0.25;
    assert!(max_diff(t, &want) < 1e-6, "the average moves a quarter of the way");
    teacher.copy_student();
    assert_eq!(max_diff(w, t), 0.0);
    let x = Tensor::randn([3, 3, 32, 32], (Kind::Float, shift_tensor::tch::Device::Cpu));
    let student = net.classify(&net.features(&x, false), false);
    assert!(
        max_diff(&teacher.logits(&x, false), &student) < 1e-6,
        "the copy predicts as the student"
    );
}
