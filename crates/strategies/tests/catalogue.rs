//! The catalogue's losses against their published formulas: DAN, JAN, Deep CORAL, BNM, MCC, MDD, DSAN, WDGRL and DAAN, each against the
//! PyTorch fixture beside its script (`fixtures/<method>/`), loss and gradient, to 1e-10 in double precision.

mod common;

use common::{fixture, max_diff, tensor};
use shift_models::{DiscriminatorShape, DomainDiscriminator};
use shift_strategies::methods::adda::{critic_loss, mapping_loss};
use shift_strategies::methods::bnm::bnm_loss;
use shift_strategies::methods::coral::{coral_loss, covariance};
use shift_strategies::methods::daan::{domain_losses, dynamic_factor};
use shift_strategies::methods::dsan::lmmd;
use shift_strategies::methods::jan::jmmd;
use shift_strategies::methods::mcc::mcc_loss;
use shift_strategies::methods::mcd::{class_balance, discrepancy, heads_loss};
use shift_strategies::methods::mdd::disparity;
use shift_strategies::methods::mmd::mk_mmd;
use shift_strategies::methods::wdgrl::{gradient_penalty, wasserstein};
use shift_strategies::methods::Lambda;
use shift_tensor::tch::{nn, Kind, Tensor};

const TOL: f64 = 1e-10;

fn value(t: &Tensor) -> f64 {
    t.double_value(&[])
}

#[test]
fn dan_matches_the_fixture_in_both_estimates() {
    let fx = fixture("dan");
    let zt = tensor(&fx["zt"]);
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let linear = case["linear"].as_bool().unwrap();
        let zs = tensor(&fx["zs"]).set_requires_grad(true);
        let loss = mk_mmd(&zs, &zt, linear).unwrap();
        let want = case["loss"].as_f64().unwrap();
        assert!(
            (value(&loss) - want).abs() < TOL,
            "linear {linear}: {} vs {want}",
            value(&loss)
        );
        loss.backward();
        let d = max_diff(&zs.grad(), &tensor(&case["grad_zs"]));
        assert!(d < TOL, "linear {linear}: gradient differs by {d}");
    }
}

#[test]
fn mmd_needs_as_many_rows_of_each_domain() {
    let a = Tensor::ones([3, 2], (Kind::Double, shift_tensor::tch::Device::Cpu));
    let e = mk_mmd(&a, &a.narrow(0, 0, 1), false).unwrap_err().to_string();
    assert!(e.contains("as many source as target rows"), "{e}");
    let e = mk_mmd(&a.narrow(0, 0, 1), &a.narrow(0, 0, 1), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 2 each"), "{e}");
    // Identical rows: every kernel value is 1 (no division by a zero bandwidth) and both estimates are 0.
    for linear in [false, true] {
        let same = mk_mmd(&a.narrow(0, 0, 2), &a.narrow(0, 0, 2), linear).unwrap();
        assert_eq!(value(&same), 0.0, "linear {linear}");
    }
}

#[test]
fn jan_matches_the_fixture() {
    let fx = fixture("jan");
    let f = tensor(&fx["f"]).set_requires_grad(true);
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let loss = jmmd(&f, &z, 4, fx["sigma"].as_f64().unwrap(), false).unwrap();
    let e = jmmd(&f, &z, 3, 0.92, false).unwrap_err().to_string();
    assert!(e.contains("as many source as target rows; got 3 and 5"), "{e}");
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&f.grad(), &tensor(&fx["grad_f"])) < TOL);
    let d = max_diff(&z.grad(), &tensor(&fx["grad_logits"]));
    assert!(d < TOL, "the predictions' gradient differs by {d}");
}

#[test]
fn coral_matches_the_fixture() {
    let fx = fixture("coral");
    let s = tensor(&fx["source"]).set_requires_grad(true);
    let t = tensor(&fx["target"]);
    let loss = coral_loss(&s, &t).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&s.grad(), &tensor(&fx["grad_source"])) < TOL);
    // The covariance is the unbiased one, and one row per domain is refused.
    let x = Tensor::from_slice(&[1.0f64, 3.0]).reshape([2, 1]);
    assert_eq!(value(&covariance(&x).squeeze()), 2.0);
    let e = coral_loss(&x.narrow(0, 0, 1), &x).unwrap_err().to_string();
    assert!(e.contains("at least 2 rows"), "{e}");
}

#[test]
fn adda_matches_the_fixture_and_its_mapping_inverts_the_labels() {
    let fx = fixture("adda");
    let s = tensor(&fx["source_logits"]).set_requires_grad(true);
    let t = tensor(&fx["target_logits"]).set_requires_grad(true);
    let (critic, correct, count) = critic_loss(&s, &t);
    let want = fx["critic"].as_f64().unwrap();
    assert!((value(&critic) - want).abs() < TOL, "{} vs {want}", value(&critic));
    assert_eq!(value(&count), 9.0);
    let right = s.lt(0.0).sum(Kind::Float) + t.gt(0.0).sum(Kind::Float);
    assert_eq!(value(&correct), value(&right));
    let g = Tensor::run_backward(&[&critic], &[&s, &t], false, false);
    assert!(max_diff(&g[0], &tensor(&fx["grad_critic_source"])) < TOL);
    assert!(max_diff(&g[1], &tensor(&fx["grad_critic_target"])) < TOL);
    let mapping = mapping_loss(&t);
    let want = fx["mapping"].as_f64().unwrap();
    assert!((value(&mapping) - want).abs() < TOL, "{} vs {want}", value(&mapping));
    let g = Tensor::run_backward(&[&mapping], &[&t], false, false);
    assert!(max_diff(&g[0], &tensor(&fx["grad_mapping_target"])) < TOL);
    // The critic pushes every target logit up, the mapping pushes each down.
    let critic_t = tensor(&fx["grad_critic_target"]);
    assert_eq!(value(&critic_t.lt(0.0).all().to_kind(Kind::Float)), 1.0);
    assert_eq!(value(&g[0].gt(0.0).all().to_kind(Kind::Float)), 1.0);
}

#[test]
fn bnm_matches_the_fixture() {
    let fx = fixture("bnm");
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let loss = bnm_loss(&z);
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&z.grad(), &tensor(&fx["grad_logits"])) < TOL);
}

#[test]
fn mcc_matches_the_fixture() {
    let fx = fixture("mcc");
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let loss = mcc_loss(&z, fx["temperature"].as_f64().unwrap());
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&z.grad(), &tensor(&fx["grad_logits"])) < TOL);
}

#[test]
fn mcd_matches_the_fixture() {
    let fx = fixture("mcd");
    let z: Vec<Tensor> = ["s1", "s2", "t1", "t2"]
        .iter()
        .map(|k| tensor(&fx[*k]).set_requires_grad(true))
        .collect();
    let labels: Vec<i64> = fx["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let ys = Tensor::from_slice(&labels);
    let close = |got: &Tensor, key: &str| {
        let want = fx[key].as_f64().unwrap();
        assert!((value(got) - want).abs() < TOL, "{key}: {} vs {want}", value(got));
    };
    close(&class_balance(&z[2]), "balance_t1");
    let d = discrepancy(&z[2], &z[3]);
    close(&d, "discrepancy");
    let grads = Tensor::run_backward(&[&d], &[&z[2], &z[3]], true, false);
    assert!(max_diff(&grads[0], &tensor(&fx["grad_discrepancy_t1"])) < TOL);
    assert!(max_diff(&grads[1], &tensor(&fx["grad_discrepancy_t2"])) < TOL);
    let step_b = heads_loss([&z[0], &z[1]], &ys, [&z[2], &z[3]], fx["w_balance"].as_f64().unwrap())
        - discrepancy(&z[2], &z[3]) * fx["w_discrepancy"].as_f64().unwrap();
    close(&step_b, "step_b");
    step_b.backward();
    for (k, zk) in ["s1", "s2", "t1", "t2"].iter().zip(&z) {
        let diff = max_diff(&zk.grad(), &tensor(&fx[format!("grad_step_b_{k}").as_str()]));
        assert!(diff < TOL, "d step B / d {k}: off by {diff}");
    }
}

#[test]
fn mdd_matches_the_fixture_and_its_reversal_runs_at_a_tenth_of_lambda() {
    let fx = fixture("mdd");
    let a_s = tensor(&fx["adv_s"]).set_requires_grad(true);
    let a_t = tensor(&fx["adv_t"]).set_requires_grad(true);
    let index = |k: &str| {
        let v: Vec<i64> = fx[k].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
        Tensor::from_slice(&v)
    };
    let loss = disparity(
        &a_s,
        &a_t,
        (&index("h_s"), &index("h_t")),
        fx["margin"].as_f64().unwrap(),
    );
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&a_s.grad(), &tensor(&fx["grad_adv_s"])) < TOL);
    assert!(max_diff(&a_t.grad(), &tensor(&fx["grad_adv_t"])) < TOL);
    // The adversarial head's input: identity forward, -lambda * 0.1 times the gradient backward.
    let f = Tensor::from_slice(&[1.0f64, -2.0, 3.0]).set_requires_grad(true);
    let r = Lambda::Host(0.7).reverse_scaled(&f, 0.1).unwrap();
    assert!(r.equal(&f.detach()));
    (&r * Tensor::from_slice(&[1.0f64, 2.0, 3.0]))
        .sum(Kind::Double)
        .backward();
    let want = Tensor::from_slice(&[-0.07f64, -0.14, -0.21]);
    assert!(max_diff(&f.grad(), &want) < 1e-15, "{}", f.grad());
}

#[test]
fn dsan_matches_the_fixture_leaving_out_classes_one_domain_lacks() {
    let fx = fixture("dsan");
    let s = tensor(&fx["source"]).set_requires_grad(true);
    let t = tensor(&fx["target"]).set_requires_grad(true);
    let labels: Vec<i64> = fx["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let ys = Tensor::from_slice(&labels);
    let logits = tensor(&fx["logits"]);
    let loss = lmmd(&s, &ys, &t, &logits, fx["classes"].as_i64().unwrap()).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    assert!(max_diff(&s.grad(), &tensor(&fx["grad_source"])) < TOL);
    assert!(max_diff(&t.grad(), &tensor(&fx["grad_target"])) < TOL);
    // No class in common (every source row is class 3, every target row predicted 0): 0, not 0 / 0.
    let threes = Tensor::full([6], 3, (Kind::Int64, shift_tensor::tch::Device::Cpu));
    let zeros = Tensor::from_slice(&[9.0f64, 0.0, 0.0, 0.0]).repeat([5, 1]);
    assert_eq!(value(&lmmd(&s, &threes, &t, &zeros, 4).unwrap()), 0.0);
}

#[test]
fn wdgrl_matches_the_fixture_through_the_double_backward() {
    let fx = fixture("wdgrl");
    let mut vs = nn::VarStore::new(shift_tensor::tch::Device::Cpu);
    let shape = DiscriminatorShape {
        hidden: vec![5],
        dropout: 0.0,
    };
    let critic = DomainDiscriminator::new(&(vs.root() / "critic"), 3, &shape);
    vs.double();
    let vars = vs.variables();
    shift_tensor::tch::no_grad(|| {
        for (name, key) in [
            ("0.weight", "w0"),
            ("0.bias", "b0"),
            ("2.weight", "w1"),
            ("2.bias", "b1"),
        ] {
            vars[&format!("critic.{name}")].shallow_clone().copy_(&tensor(&fx[key]));
        }
    });
    let (hs, ht, u) = (tensor(&fx["hs"]), tensor(&fx["ht"]), tensor(&fx["u"]));
    let w0 = &vars["critic.0.weight"];
    let w = wasserstein(&critic, &hs, &ht);
    assert!((value(&w) - fx["wasserstein"].as_f64().unwrap()).abs() < TOL);
    w.backward();
    assert!(max_diff(&w0.grad(), &tensor(&fx["grad_w0_wasserstein"])) < TOL);
    let _ = w0.grad().zero_();
    let gp = gradient_penalty(&critic, &hs, &ht, &u).unwrap();
    assert!(
        (value(&gp) - fx["penalty"].as_f64().unwrap()).abs() < TOL,
        "{}",
        value(&gp)
    );
    let loss = -wasserstein(&critic, &hs, &ht) + gp * fx["gamma"].as_f64().unwrap();
    assert!((value(&loss) - fx["loss"].as_f64().unwrap()).abs() < TOL);
    loss.backward();
    // Through the penalty's gradient of a gradient: wrong without create_graph.
    let d = max_diff(&w0.grad(), &tensor(&fx["grad_w0"]));
    assert!(d < TOL, "the critic's gradient differs by {d}");
    let e = gradient_penalty(&critic, &hs, &ht.narrow(0, 0, 3), &u)
        .unwrap_err()
        .to_string();
    assert!(e.contains("as many source as target rows"), "{e}");
}

/// A discriminator of `hidden` units on `input` values with the fixture's weights (`w0`, `b0`, `w1`, `b1`).
fn fixed_discriminator(
    vs: &nn::VarStore,
    name: &str,
    input: i64,
    hidden: i64,
    w: &serde_json::Value,
) -> DomainDiscriminator {
    let shape = DiscriminatorShape {
        hidden: vec![hidden],
        dropout: 0.0,
    };
    let d = DomainDiscriminator::new(&(vs.root() / name), input, &shape);
    let vars = vs.variables();
    shift_tensor::tch::no_grad(|| {
        for (var, key) in [
            ("0.weight", "w0"),
            ("0.bias", "b0"),
            ("2.weight", "w1"),
            ("2.bias", "b1"),
        ] {
            let t = tensor(&w[key]).to_kind(vars[&format!("{name}.{var}")].kind());
            vars[&format!("{name}.{var}")].shallow_clone().copy_(&t);
        }
    });
    d
}

#[test]
fn daan_matches_the_fixture_and_its_factor_weighs_the_proxies() {
    let fx = fixture("daan");
    let mut vs = nn::VarStore::new(shift_tensor::tch::Device::Cpu);
    vs.set_kind(Kind::Double);
    let global = fixed_discriminator(&vs, "g", 4, 5, &fx["global"]);
    let local: Vec<_> = fx["local"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(c, w)| fixed_discriminator(&vs, &format!("l{c}"), 4, 5, w))
        .collect();
    let f = tensor(&fx["f"]).set_requires_grad(true);
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let lambda = Lambda::Host(fx["lambda"].as_f64().unwrap());
    let omega = fx["omega"].as_f64().unwrap();
    let l = domain_losses(&global, &local, (&f, &z), &tensor(&fx["domain"]), |h| lambda.reverse(h)).unwrap();
    // The losses to 1e-10; the error rates are counts over 6 rows, kept in single precision like the metrics.
    for (got, key, tol) in [
        (&l.global, "l_global", TOL),
        (&l.local, "l_local", TOL),
        (&l.global_error, "error_global", 1e-7),
        (&l.local_error, "error_local", 1e-7),
    ] {
        let want = fx[key].as_f64().unwrap();
        assert!((value(got) - want).abs() < tol, "{key}: {} vs {want}", value(got));
    }
    let t = &l.global * (1.0 - omega) + &l.local * omega;
    assert!((value(&t) - fx["transfer"].as_f64().unwrap()).abs() < TOL);
    t.backward();
    assert!(max_diff(&f.grad(), &tensor(&fx["grad_f"])) < TOL, "features");
    assert!(max_diff(&z.grad(), &tensor(&fx["grad_logits"])) < TOL, "predictions");
    // omega = 1 - d_g / (d_g + d_l), a negative proxy as 0, 0.5 when both are 0.
    let factor = |g: f64, l: f64| value(&dynamic_factor(&Tensor::from(g), &Tensor::from(l)));
    assert_eq!(factor(1.0, 3.0), 0.75);
    assert_eq!(factor(-1.0, 2.0), 1.0);
    assert_eq!(factor(2.0, -0.5), 0.0);
    assert_eq!(factor(-1.0, 0.0), 0.5);
    let next = {
        let clamp = |e: f64| (2.0 * (1.0 - 2.0 * e)).max(0.0);
        factor(clamp(value(&l.global_error)), clamp(value(&l.local_error)))
    };
    assert_eq!(next, fx["omega_next"].as_f64().unwrap());
}
