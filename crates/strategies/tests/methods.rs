//! The methods against their formulas: CDAN / CDAN+E against the PyTorch fixture (`fixtures/cdan/`), DANN's
//! reversal of the domain gradient into the features, how methods build on a backbone, and the registry.

mod common;

use common::{max_diff, tensor};
use serde_json::Value;
use shift_models::multi_lenet::MultiLeNet;
use shift_models::{digit::DigitNet, AdaptNet, DiscriminatorShape, DomainDiscriminator};
use shift_strategies::methods::cdan::{conditional_domain_terms, entropy_weights, Cdan, MultilinearMap};
use shift_strategies::methods::dann::dann_terms;
use shift_strategies::methods::{domain_labels, BuildContext, Capture, Lambda, StepInputs};
use shift_strategies::{backbone_groups, Adapt, MethodName, MethodSpec, Update};
use shift_tensor::tch::{nn, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every case of the fixture: the loss, the entropy weights, the gradient that reaches the features through the
/// reversal layer and the discriminator's (undamped) gradient, to 1e-10 in double precision.
#[test]
fn cdan_and_cdan_e_match_the_pytorch_fixture() {
    let _rng = rng_lock();
    let fx: Value = common::fixture("cdan");
    let lambda = fx["lambda"].as_f64().unwrap();
    let logits = tensor(&fx["logits"]);
    let domain = tensor(&fx["domain"]);
    let cases = fx["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let f = tensor(&fx["f"]).set_requires_grad(true);
        let map = if case["randomized"].as_bool().unwrap() {
            MultilinearMap::randomized(tensor(&case["rf"]), tensor(&case["rg"]))
        } else {
            MultilinearMap::Full {
                features: f.size()[1],
                classes: logits.size()[1],
            }
        };
        let mut vs = nn::VarStore::new(CPU);
        let shape = DiscriminatorShape {
            hidden: vec![fx["hidden"].as_i64().unwrap()],
            dropout: 0.0,
        };
        let disc = DomainDiscriminator::new(&(vs.root() / "d"), map.output_dim(), &shape);
        vs.double();
        let vars = vs.variables();
        shift_tensor::tch::no_grad(|| {
            vars["d.0.weight"].shallow_clone().copy_(&tensor(&case["w0"]));
            vars["d.0.bias"].shallow_clone().copy_(&tensor(&case["b0"]));
            vars["d.2.weight"].shallow_clone().copy_(&tensor(&case["w1"]));
            vars["d.2.bias"].shallow_clone().copy_(&tensor(&case["b1"]));
        });
        let entropy = case["entropy"].as_bool().unwrap();
        let (loss, _, count) = conditional_domain_terms(&disc, &map, (&f, &logits), &domain, entropy, |h| {
            Lambda::Host(lambda).reverse(h)
        })
        .unwrap();
        assert_eq!(count.double_value(&[]), 6.0);
        let want = case["loss"].as_f64().unwrap();
        assert!(
            (loss.double_value(&[]) - want).abs() < 1e-10,
            "{name}: {loss} vs {want}"
        );
        if entropy {
            let w = entropy_weights(&logits);
            assert!(max_diff(&w, &tensor(&case["weights"])) < 1e-12, "{name}: weights");
            assert!((w.sum(Kind::Double).double_value(&[]) - 6.0).abs() < 1e-12);
        }
        loss.backward();
        let d = max_diff(&f.grad(), &tensor(&case["grad_f"]));
        assert!(d < 1e-10, "{name}: gradient at the features differs by {d}");
        let d = max_diff(&vars["d.0.weight"].grad(), &tensor(&case["grad_w0"]));
        assert!(d < 1e-10, "{name}: discriminator gradient differs by {d}");
    }
}

/// The conditioning detaches the predictions: no gradient of the domain loss reaches the logits.
#[test]
fn the_conditioning_passes_no_gradient_to_the_predictions() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(1);
    let f = Tensor::randn([4, 3], (Kind::Float, CPU)).set_requires_grad(true);
    let logits = Tensor::randn([4, 2], (Kind::Float, CPU)).set_requires_grad(true);
    let vs = nn::VarStore::new(CPU);
    let map = MultilinearMap::Full {
        features: 3,
        classes: 2,
    };
    let disc = DomainDiscriminator::new(
        &vs.root(),
        6,
        &DiscriminatorShape {
            hidden: vec![4],
            dropout: 0.0,
        },
    );
    let domain = domain_labels(2, 2, CPU);
    let (loss, _, _) =
        conditional_domain_terms(&disc, &map, (&f, &logits), &domain, true, |h| Ok(h.shallow_clone())).unwrap();
    loss.backward();
    assert!(!logits.grad().defined() || logits.grad().abs().sum(Kind::Float).double_value(&[]) == 0.0);
    assert!(f.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

/// The multilinear map's layout (`c * d_f + j` is `g_c * f_j`) and the randomized map's scale.
#[test]
fn the_multilinear_maps_compute_their_definitions() {
    let f = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).view([1, 3]);
    let g = Tensor::from_slice(&[0.25f32, 0.75]).view([1, 2]);
    let full = MultilinearMap::Full {
        features: 3,
        classes: 2,
    }
    .apply(&f, &g);
    let want = Tensor::from_slice(&[0.25f32, 0.5, 0.75, 0.75, 1.5, 2.25]).view([1, 6]);
    assert_eq!(max_diff(&full, &want), 0.0);
    let rf = Tensor::ones([3, 4], (Kind::Float, CPU));
    let rg = Tensor::ones([2, 4], (Kind::Float, CPU)) * 2.0;
    let r = MultilinearMap::randomized(rf, rg).apply(&f, &g);
    // (1 + 2 + 3) * (2 * 0.25 + 2 * 0.75) / sqrt(4) = 6.
    assert_eq!(max_diff(&r, &(Tensor::ones([1, 4], (Kind::Float, CPU)) * 6.0)), 0.0);
}

/// On the digit net, 1200 features x 10 classes exceed 4096 values: the map is randomized to 1024, its matrices
/// are kept in the checkpoint but never trained, and the discriminator reads 1024 values.
#[test]
fn cdan_on_the_digit_net_uses_the_randomized_map_kept_but_not_trained() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(2);
    let net = DigitNet::new(CPU);
    let spec = MethodSpec::from("cdan-e".parse::<MethodName>().unwrap());
    let cdan = Cdan::new(&BuildContext { net: &net, spec: &spec }, true);
    assert_eq!(cdan.map().output_dim(), 1024);
    let vars = net.var_store().variables();
    assert_eq!(vars["discriminator.map.rf"].size(), [1200, 1024]);
    assert_eq!(vars["discriminator.map.rg"].size(), [10, 1024]);
    assert_eq!(vars["discriminator.0.weight"].size(), [100, 1024]);
    assert!(!vars["discriminator.map.rf"].requires_grad());
    let s = Adapt::new(net, Box::new(cdan), &backbone_groups(1.0), Update::sgd(0.9, 0.0)).unwrap();
    let names = s.optimiser_names();
    assert_eq!(names.len(), 1);
    assert!(names[0].1.contains(&"discriminator.0.weight"));
    assert!(!names[0].1.iter().any(|n| n.contains(".map.")), "{names:?}");
    use shift_strategies::Strategy;
    assert!(s.state().iter().any(|(n, _)| n == "model.discriminator.map.rf"));
}

/// One DANN step's gradient at the feature extractor is the label loss's gradient minus lambda times the domain
/// loss's, and the discriminator's is undamped. Passing the features to the discriminator without the reversal
/// layer fails this.
#[test]
fn dann_reverses_the_domain_gradient_into_the_features() {
    use shift_strategies::methods::{dann::Dann, Method};
    let _rng = rng_lock();
    shift_tensor::seed_everything(4);
    let net = DigitNet::new(CPU);
    let spec = MethodSpec::from(MethodName::DANN);
    let dann = Dann::new(&BuildContext { net: &net, spec: &spec }).unwrap();
    assert_eq!(dann.capture(), Capture::Joint);
    let xs = Tensor::randn([8, 3, 32, 32], (Kind::Float, CPU));
    let ys = Tensor::randint(10, [8], (Kind::Int64, CPU));
    let xt = Tensor::randn([8, 3, 32, 32], (Kind::Float, CPU)) * 0.5 + 0.2;
    let domain = domain_labels(8, 8, CPU);
    let vars = net.var_store().variables();
    let grads = |loss: Tensor| -> (Tensor, Tensor) {
        for v in vars.values() {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        loss.backward();
        // Both gradients must exist: a discriminator the loss never reached has no gradient to compare.
        let disc = vars["discriminator.0.weight"].grad();
        assert!(disc.defined(), "the domain loss reached no discriminator weight");
        (vars["features.c1.weight"].grad().copy(), disc.copy())
    };
    let lambda = 0.37;
    let batch = StepInputs {
        domains: 1,
        labelled: (&xs, &ys),
        target: Some(&xt),
        domain: Some(&domain),
        target_index: None,
    };
    let (with_grl, disc_grl) = grads(dann.loss(&net, &batch, Lambda::Host(lambda)).unwrap().loss);
    let no_reversal = |f: &Tensor| Ok(f.shallow_clone());
    let plain = dann_terms(&net, dann.discriminator(), (&xs, &ys, &xt), &domain, no_reversal, None).unwrap();
    let (both, disc_plain) = grads(plain.loss);
    let f = net.features(&Tensor::cat(&[&xs, &xt], 0), true);
    let (label_only, _) = grads(net.classify(&f.narrow(0, 0, 8), true).cross_entropy_for_logits(&ys));
    let want = &label_only - (&both - &label_only) * lambda;
    let scale = want.abs().max().double_value(&[]);
    assert!(scale > 0.0);
    let d = max_diff(&with_grl, &want);
    assert!(d <= 1e-5 * scale, "features' gradient off by {d} (scale {scale})");
    let disc_scale = disc_plain.abs().max().double_value(&[]);
    assert!(disc_scale > 0.0, "the discriminator's gradient is zero");
    let d = max_diff(&disc_grl, &disc_plain);
    assert!(d <= 1e-6 * disc_scale, "the discriminator's gradient is damped: {d}");
}

/// With `lambda_on_discriminator = 1` (Ganin et al.'s Algorithm 1, the shallow DANN) the domain regressor's
/// gradient is lambda times the full-rate one, and the features' gradient is unchanged; switched off, the
/// discriminator's gradient is the full-rate one, which the first assertion refuses.
#[test]
fn the_shallow_algorithm_scales_the_domain_regressors_step_by_lambda() {
    use shift_models::mlp::MlpNet;
    use shift_strategies::methods::{dann::Dann, Method};
    let _rng = rng_lock();
    shift_tensor::seed_everything(5);
    let xs = Tensor::rand([8, 6], (Kind::Float, CPU)) * 3.0;
    let ys = Tensor::randint(2, [8], (Kind::Int64, CPU));
    let xt = Tensor::rand([8, 6], (Kind::Float, CPU)) * 3.0 + 1.0;
    let domain = domain_labels(8, 8, CPU);
    let batch = StepInputs {
        domains: 1,
        labelled: (&xs, &ys),
        target: Some(&xt),
        domain: Some(&domain),
        target_index: None,
    };
    let lambda = 0.1;
    // The same initial weights for both settings: each builds its net and discriminator from the same seed.
    let step = |on: f64| -> (Tensor, Tensor) {
        shift_tensor::seed_everything(6);
        let net = MlpNet::shallow(CPU, 6, 5, 2);
        let mut set = std::collections::BTreeMap::new();
        set.insert("lambda_on_discriminator".to_string(), on);
        let spec = MethodSpec::new(MethodName::DANN, &set).unwrap();
        let dann = Dann::new(&BuildContext { net: &net, spec: &spec }).unwrap();
        let vars = net.var_store().variables();
        for v in vars.values() {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        dann.loss(&net, &batch, Lambda::Host(lambda)).unwrap().loss.backward();
        (
            vars["features.0.weight"].grad().copy(),
            vars["discriminator.0.weight"].grad().copy(),
        )
    };
    let (features_full, disc_full) = step(0.0);
    let (features_scaled, disc_scaled) = step(1.0);
    let scale = disc_full.abs().max().double_value(&[]);
    assert!(scale > 0.0);
    let d = max_diff(&disc_scaled, &(&disc_full * lambda));
    assert!(
        d <= 1e-6 * scale,
        "the domain regressor's gradient is not lambda times the full one: {d}"
    );
    let d = max_diff(&features_scaled, &features_full);
    assert!(
        d <= 1e-6 * features_full.abs().max().double_value(&[]),
        "the features' gradient moved: {d}"
    );
}

/// Every trainable variable of every method on the digit net (on the audio CNN for a method that needs a latent
/// sequence) is in one of its optimisers: a method that adds networks and keeps the default single optimiser
/// over the backbone alone would leave them untrained.
#[test]
fn every_method_optimises_all_it_trains() {
    let _rng = rng_lock();
    for name in MethodName::all() {
        let net: Box<dyn AdaptNet> = if name.data().sequence.is_some() {
            Box::new(shift_models::audio_cnn::AudioCnn::new(CPU, 10))
        } else if name.data().tasks {
            Box::new(MultiLeNet::new(CPU, 2))
        } else {
            Box::new(DigitNet::new(CPU))
        };
        let spec = MethodSpec::from(name);
        let method = name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
        let specs = method.optimisers(&backbone_groups(1.0));
        let mut names: Vec<String> = net.var_store().variables().into_keys().collect();
        names.sort();
        for var in names {
            let trained = net.var_store().variables()[&var].requires_grad();
            let optimised = specs.iter().any(|s| s.groups.iter().any(|g| g.selects(&var)));
            assert!(!trained || optimised, "{name}: {var} is trained by no optimiser");
        }
    }
}

/// A method that cannot take a batch (here: one without its target) says so under its own name, never under the
/// name of a method whose terms it shares (DIRT-T's first phase is VADA's).
#[test]
fn every_method_refusing_a_batch_names_itself() {
    let _rng = rng_lock();
    for name in MethodName::all() {
        let (net, x): (Box<dyn AdaptNet>, Tensor) = if name.data().sequence.is_some() {
            let x = Tensor::randn([4, 40, 16], (Kind::Float, CPU));
            (Box::new(shift_models::audio_cnn::AudioCnn::new(CPU, 10)), x)
        } else {
            (
                Box::new(DigitNet::new(CPU)),
                Tensor::randn([4, 3, 32, 32], (Kind::Float, CPU)),
            )
        };
        let y = Tensor::from_slice(&[0i64, 1, 2, 3]);
        let spec = MethodSpec::from(name);
        let method = name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
        let batch = StepInputs {
            domains: 1,
            labelled: (&x, &y),
            target: None,
            domain: None,
            target_index: None,
        };
        if let Err(e) = method.loss(net.as_ref(), &batch, Lambda::Host(0.5)) {
            let e = e.to_string();
            assert!(e.contains(name.as_str()), "{name}: {e}");
        }
    }
}

/// A method that says its step is one joint loss (`Capture::Joint`, what the fast step captures) has that loss:
/// on a whole batch of source and target it computes, where a method that steps otherwise refuses by name.
#[test]
fn every_joint_method_has_its_joint_loss() {
    let _rng = rng_lock();
    let mut joint = 0;
    for name in MethodName::all() {
        let (net, x): (Box<dyn AdaptNet>, Tensor) = if name.data().sequence.is_some() {
            let x = Tensor::randn([8, 40, 16], (Kind::Float, CPU));
            (Box::new(shift_models::audio_cnn::AudioCnn::new(CPU, 10)), x)
        } else if name.data().tasks {
            let x = Tensor::randn([8, 1, 28, 28], (Kind::Float, CPU));
            (Box::new(MultiLeNet::new(CPU, 2)), x)
        } else {
            (
                Box::new(DigitNet::new(CPU)),
                Tensor::randn([8, 3, 32, 32], (Kind::Float, CPU)),
            )
        };
        let y = Tensor::from_slice(&[0i64, 1, 2, 3]);
        let (xs, xt) = (x.narrow(0, 0, 4), x.narrow(0, 4, 4));
        let domain = domain_labels(4, 4, CPU);
        // A method over several domains takes all 8 rows labelled, as two domains' blocks, and no target.
        let several = name.data().domains;
        let y8 = Tensor::from_slice(&[0i64, 1, 2, 3, 3, 2, 1, 0]);
        let spec = MethodSpec::from(name).with_domains(if several { 2 } else { 1 });
        let method = name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
        // A multitask weighting takes the labelled rows with a class per task, and no target.
        let y_tasks = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5, 6, 7]).view([4, 2]);
        let batch = if name.data().tasks {
            StepInputs {
                domains: 1,
                labelled: (&xs, &y_tasks),
                target: None,
                domain: None,
                target_index: None,
            }
        } else if several {
            StepInputs {
                domains: 2,
                labelled: (&x, &y8),
                target: None,
                domain: None,
                target_index: None,
            }
        } else {
            StepInputs {
                domains: 1,
                labelled: (&xs, &y),
                target: Some(&xt),
                domain: Some(&domain),
                target_index: None,
            }
        };
        let loss = method.loss(net.as_ref(), &batch, Lambda::Host(0.5));
        match method.capture() {
            Capture::Joint => {
                joint += 1;
                let terms = loss.unwrap_or_else(|e| panic!("{name} is Capture::Joint but has no loss: {e}"));
                assert!(terms.loss.double_value(&[]).is_finite(), "{name}");
            }
            Capture::No(_) => {}
        }
    }
    assert!(joint >= 12, "{joint} joint methods");
}

/// DAAN's loss is a pure function of the batch and its state; its step adds the batch's error rates to the
/// epoch's proxies (`discriminator.daan.dg` and `.dl`).
#[test]
fn daan_counts_its_proxies_in_the_step_not_in_the_loss() {
    let _rng = rng_lock();
    let net = DigitNet::new(CPU);
    let name: MethodName = "daan".parse().unwrap();
    let spec = MethodSpec::from(name);
    let mut daan = name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
    let x = Tensor::randn([8, 3, 32, 32], (Kind::Float, CPU));
    let (xs, xt) = (x.narrow(0, 0, 4), x.narrow(0, 4, 4));
    let y = Tensor::from_slice(&[0i64, 1, 2, 3]);
    let domain = domain_labels(4, 4, CPU);
    let batch = StepInputs {
        domains: 1,
        labelled: (&xs, &y),
        target: Some(&xt),
        domain: Some(&domain),
        target_index: None,
    };
    let proxies = || {
        let v = net.var_store().variables();
        (
            v["discriminator.daan.dg"].double_value(&[]),
            v["discriminator.daan.dl"].double_value(&[]),
        )
    };
    for _ in 0..2 {
        daan.loss(&net, &batch, Lambda::Host(0.5)).unwrap();
    }
    assert_eq!(proxies(), (0.0, 0.0), "the loss left the proxies alone");
    let specs = daan.optimisers(&backbone_groups(1.0));
    let mut opts: Vec<_> = specs
        .iter()
        .map(|s| shift_strategies::Optimiser::new(net.var_store(), &s.groups, Update::sgd(0.9, 0.0)).unwrap())
        .collect();
    let metrics = daan.step(&net, &batch, &mut opts, 0.01, 0.5).unwrap();
    assert!(metrics[0].double_value(&[]).is_finite());
    let (dg, dl) = proxies();
    // Each proxy adds 2 (1 - 2 err) for an error rate err in [0, 1]: a value in [-2, 2], and not both zero.
    assert!(
        (-2.0..=2.0).contains(&dg) && (-2.0..=2.0).contains(&dl) && (dg, dl) != (0.0, 0.0),
        "{dg} {dl}"
    );
}

/// The running statistics held for a pass come back on however the pass ends, a panic included.
#[test]
fn held_statistics_restores_the_switch_after_a_panic() {
    let _rng = rng_lock();
    let net = shift_models::digit_bn::DigitBnNet::new(CPU);
    let switch = net.statistics().unwrap();
    assert!(switch.tracking());
    let inside = shift_strategies::methods::held_statistics(&net, || switch.tracking());
    assert!(!inside, "held inside");
    assert!(switch.tracking(), "restored after");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shift_strategies::methods::held_statistics(&net, || panic!("a pass that fails"))
    }));
    assert!(caught.is_err());
    assert!(switch.tracking(), "restored after a panic");
}

#[test]
fn a_method_given_the_wrong_number_of_optimisers_says_which_it_steps() {
    let err = shift_strategies::methods::named_optimisers(&mut [], "adda", ["source", "critic", "encoder"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("adda steps 3 optimisers (source, critic, encoder), got 0"),
        "{err}"
    );
}
