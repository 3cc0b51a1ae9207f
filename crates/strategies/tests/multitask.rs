//! The multitask weightings: each formula against its PyTorch / NumPy statement
//! (`fixtures/multitask/multitask_loss.py`: the exact min-norm point, MGDA-UB's gradients and weights, PCGrad's
//! projection, uncertainty weighting's loss), and each weighting's defining behaviour on a small synthetic
//! two-task problem with MultiLeNet, against the weighting with its term switched off.

mod common;

use common::{fixture, max_diff, rng_lock, tensor};
use shift_models::multi_lenet::MultiLeNet;
use shift_models::AdaptNet;
use shift_strategies::evaluate::task_accuracies;
use shift_strategies::methods::mgda_ub::{gradients_at, min_norm_of};
use shift_strategies::methods::min_norm::min_norm_weights;
use shift_strategies::methods::pcgrad::project_conflicts;
use shift_strategies::methods::uncertainty::uncertainty_loss;
use shift_strategies::methods::EpochStart;
use shift_strategies::{backbone_groups, Adapt, MethodSpec, StepBatch, Strategy, Update};
use shift_tensor::tch::{Device, Kind, Tensor};
use std::collections::BTreeMap;

const CPU: Device = Device::Cpu;

fn rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
        .collect()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn min_norm_weights_match_the_exact_solution() {
    let fx = fixture("multitask");
    for case in fx["min_norm"].as_array().unwrap() {
        let gram = rows(&case["gram"]);
        let want = floats(&case["weights"]);
        let want_norm = case["norm2"].as_f64().unwrap();
        let (got, norm) = min_norm_weights(&gram).unwrap();
        assert!((got.iter().sum::<f64>() - 1.0).abs() < 1e-12 && got.iter().all(|&a| a >= 0.0));
        if gram.len() == 2 {
            // Algorithm 1's closed form is exact.
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-10, "{got:?} against {want:?}");
            }
            assert!((norm - want_norm).abs() < 1e-10);
        } else {
            // Frank-Wolfe converges to the minimum: its norm within 1e-3 of the exact one.
            assert!(norm >= want_norm - 1e-12, "{norm} below the exact minimum {want_norm}");
            assert!(
                norm - want_norm < 1e-3 * want_norm.max(1.0),
                "{norm} against {want_norm} ({got:?} against {want:?})"
            );
        }
    }
}

#[test]
fn mgda_ub_s_gradients_at_the_representation_and_weights_match_pytorch() {
    let fx = fixture("multitask");
    let z = tensor(&fx["mgda_z"]).set_requires_grad(true);
    let heads: Vec<Tensor> = fx["mgda_heads"].as_array().unwrap().iter().map(tensor).collect();
    let labels = tensor(&fx["mgda_labels"]).to_kind(Kind::Int64);
    let losses: Vec<Tensor> = heads
        .iter()
        .enumerate()
        .map(|(t, h)| {
            z.matmul(h)
                .log_softmax(-1, Kind::Double)
                .nll_loss(&labels.get(t as i64))
        })
        .collect();
    for (l, want) in losses.iter().zip(floats(&fx["mgda_losses"])) {
        assert!((l.double_value(&[]) - want).abs() < 1e-12);
    }
    let g = gradients_at(&losses, &z, "mgda-ub").unwrap();
    assert!(max_diff(&g, &tensor(&fx["mgda_grads"])) < 1e-12);
    let a = min_norm_of(&g, "mgda-ub").unwrap();
    for (got, want) in a.iter().zip(floats(&fx["mgda_weights"])) {
        assert!((got - want).abs() < 1e-10, "{a:?}");
    }
    let combined = &losses[0] * a[0] + &losses[1] * a[1];
    let dz = Tensor::run_backward(&[combined], &[&z], false, false);
    assert!(max_diff(&dz[0], &tensor(&fx["mgda_combined_grad"])) < 1e-10);
}

#[test]
fn pcgrad_s_projection_matches_algorithm_1() {
    let fx = fixture("multitask");
    let g = tensor(&fx["pcgrad_grads"]);
    let orders: Vec<Vec<usize>> = fx["pcgrad_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o.as_array()
                .unwrap()
                .iter()
                .map(|j| j.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    let (total, share) = project_conflicts(&g, &orders);
    assert!(max_diff(&total, &tensor(&fx["pcgrad_total"])) < 1e-12);
    assert!((share.double_value(&[]) - fx["pcgrad_conflict_share"].as_f64().unwrap()).abs() < 1e-7);
}

#[test]
fn uncertainty_loss_and_its_gradients_match_pytorch() {
    let fx = fixture("multitask");
    let l = tensor(&fx["uncertainty_losses"]).set_requires_grad(true);
    let s = tensor(&fx["uncertainty_log_var"]).set_requires_grad(true);
    let u = uncertainty_loss(&l, &s).to_kind(Kind::Double);
    assert!((u.double_value(&[]) - fx["uncertainty_loss"].as_f64().unwrap()).abs() < 1e-6);
    let g = Tensor::run_backward(&[u], &[&l, &s], false, false);
    assert!(max_diff(&g[0].to_kind(Kind::Double), &tensor(&fx["uncertainty_grad_losses"])) < 1e-6);
    assert!(max_diff(&g[1].to_kind(Kind::Double), &tensor(&fx["uncertainty_grad_log_var"])) < 1e-6);
}

#[test]
fn the_min_norm_direction_descends_on_every_task_where_the_mean_does_not() {
    // Task 1's gradient is ten times task 0's size and points mostly against it.
    let g = Tensor::from_slice(&[1.0f64, 0.0, -9.0, 2.0]).view([2, 2]);
    let mean = g.mean_dim(0, false, Kind::Double);
    assert!(
        mean.dot(&g.get(0)).double_value(&[]) < 0.0,
        "the mean ascends on task 0"
    );
    let a = min_norm_of(&g, "mgda-ub").unwrap();
    let d = Tensor::from_slice(&a).matmul(&g);
    let d2 = d.dot(&d).double_value(&[]);
    assert!(d2 > 0.0);
    for t in 0..2 {
        // MGDA's optimality: <d, g_t> >= |d|^2 > 0 for every task.
        assert!(d.dot(&g.get(t)).double_value(&[]) >= d2 - 1e-12, "{a:?}");
    }
}

#[test]
fn pcgrad_removes_a_conflict_and_leaves_agreeing_gradients_alone() {
    let conflicting = Tensor::from_slice(&[1.0f64, 0.0, -1.0, 1.0]).view([2, 2]);
    let orders = vec![vec![1], vec![0]];
    let (total, share) = project_conflicts(&conflicting, &orders);
    assert_eq!(share.double_value(&[]), 1.0);
    let plain = conflicting.sum_dim_intlist(0, false, Kind::Double);
    assert!(plain.dot(&conflicting.get(0)).double_value(&[]) <= 0.0);
    for t in 0..2 {
        assert!(total.dot(&conflicting.get(t)).double_value(&[]) > 0.0, "{total:?}");
    }
    let agreeing = Tensor::from_slice(&[1.0f64, 0.5, 0.2, 1.0]).view([2, 2]);
    let (total, share) = project_conflicts(&agreeing, &orders);
    assert_eq!(share.double_value(&[]), 0.0);
    assert_eq!(max_diff(&total, &agreeing.sum_dim_intlist(0, false, Kind::Double)), 0.0);
}

/// Images whose task-0 class is where a bright square sits, and task-1 classes `task1` (random: unlearnable, or
/// task 0's own, or task 0's shifted by one).
fn two_tasks(n: i64, task1: &str) -> (Tensor, Tensor) {
    let y0 = Tensor::randint(10, [n], (Kind::Int64, CPU));
    let x = Tensor::randn([n, 1, 28, 28], (Kind::Float, CPU)) * 0.3;
    let y0v = Vec::<i64>::try_from(&y0).unwrap();
    for (i, &c) in y0v.iter().enumerate() {
        let (r, col) = (2 + (c / 5) * 12, 2 + (c % 5) * 5);
        let _ = x.get(i as i64).get(0).narrow(0, r, 6).narrow(1, col, 4).fill_(2.0);
    }
    let y1 = match task1 {
        "random" => Tensor::randint(10, [n], (Kind::Int64, CPU)),
        "same" => y0.shallow_clone(),
        _ => (&y0 + 1).remainder(10),
    };
    (x, Tensor::stack(&[y0, y1], 1))
}

/// `method` with `params` trained for `steps` of Adam at 1e-2 on `(x, y)`, batches of 64 in order.
fn train(method: &str, params: &[(&str, f64)], (x, y): &(Tensor, Tensor), steps: i64) -> Adapt<MultiLeNet> {
    train_from(method, params, (x, y), steps, false, Update::adam(0.0))
}

/// [`train`] with the update rule `update`, task 1's head started as a copy of task 0's where `twin_heads`.
fn train_from(
    method: &str,
    params: &[(&str, f64)],
    (x, y): (&Tensor, &Tensor),
    steps: i64,
    twin_heads: bool,
    update: Update,
) -> Adapt<MultiLeNet> {
    shift_tensor::seed_everything(0);
    let set: BTreeMap<String, f64> = params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    let spec = MethodSpec::new(method.parse().unwrap(), &set).unwrap();
    let net = MultiLeNet::new(CPU, 2);
    if twin_heads {
        // Task 1's head starts as task 0's.
        let vars = net.var_store().variables();
        shift_tensor::tch::no_grad(|| {
            for (name, v) in &vars {
                if let Some(rest) = name.strip_prefix("classifier.task1.") {
                    v.shallow_clone().copy_(&vars[&format!("classifier.task0.{rest}")]);
                }
            }
        });
    }
    let mut s = Adapt::build(net, spec, &backbone_groups(1.0), update).unwrap();
    s.on_epoch_start(&EpochStart {
        epoch: 0,
        step: 0,
        epochs: 1,
        steps_per_epoch: steps,
        target: None,
        labelled: None,
    })
    .unwrap();
    let n = x.size()[0];
    for step in 0..steps {
        // Each step draws from a seed of its own (as the epoch loop's step seeds), so two methods draw alike.
        shift_tensor::tch::manual_seed(1000 + step);
        let at = (step * 64) % (n - 64);
        let (bx, by) = (x.narrow(0, at, 64), y.narrow(0, at, 64));
        let b = StepBatch {
            labelled: (&bx, &by),
            unlabelled: None,
            unlabelled_index: None,
            domains: 1,
        };
        s.train_step(&b, 1e-2, 1.0).unwrap();
    }
    s
}

fn variable(s: &Adapt<MultiLeNet>, name: &str) -> Tensor {
    s.network().var_store().variables()[name].detach().copy()
}

#[test]
fn uncertainty_weighs_down_the_task_it_cannot_learn() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(1);
    let data = two_tasks(2048, "random");
    let s = train("uncertainty", &[], &data, 300);
    let w = (-variable(&s, "discriminator.uncertainty.log_var")).exp();
    let w = Vec::<f64>::try_from(w.to_kind(Kind::Double)).unwrap();
    // Learnable task 0: its weight rises above 1; the random task 1 falls below.
    assert!(w[0] > 1.5 && w[1] < 0.7, "weights {w:?}");
    let acc = task_accuracies(s.network(), &data.0, &data.1, 512).unwrap();
    assert!(acc[0] > 0.9, "task 0 learnt: {acc:?}");
}

#[test]
fn single_task_trains_its_own_head_only() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(1);
    let data = two_tasks(1024, "random");
    shift_tensor::seed_everything(0);
    let fresh = MultiLeNet::new(CPU, 2);
    let start = |name: &str| fresh.var_store().variables()[name].detach().copy();
    let s = train("single-task", &[("task", 0.0)], &data, 50);
    for name in ["classifier.task1.fc1.weight", "classifier.task1.fc2.bias"] {
        assert_eq!(max_diff(&variable(&s, name), &start(name)), 0.0, "{name} moved");
    }
    for name in ["classifier.task0.fc2.weight", "features.conv1.weight"] {
        assert!(
            max_diff(&variable(&s, name), &start(name)) > 1e-3,
            "{name} did not move"
        );
    }
    let e = MethodSpec::new(
        "single-task".parse().unwrap(),
        &BTreeMap::from([("task".to_string(), 2.0)]),
    )
    .and_then(|spec| Adapt::build(MultiLeNet::new(CPU, 2), spec, &backbone_groups(1.0), Update::adam(0.0)).map(|_| ()))
    .unwrap_err()
    .to_string();
    assert!(e.contains("params.single-task.task") && e.contains("2 task(s)"), "{e}");
}

#[test]
fn pcgrad_equals_the_mean_on_agreeing_tasks_and_departs_from_it_on_conflicting_ones() {
    let _rng = rng_lock();
    for (task1, agree) in [("same", true), ("shifted", false)] {
        shift_tensor::seed_everything(1);
        let data = two_tasks(1024, task1);
        // One task twice from twin heads: the tasks' gradients differ only by the heads' dropout masks.
        // Plain SGD: the step is the gradient itself, so a rescaled one would show (Adam's first step would not).
        let sgd = Update::sgd(0.0, 0.0);
        let equal = train_from("equal", &[], (&data.0, &data.1), 1, agree, sgd);
        let mut s = train_from("pcgrad", &[], (&data.0, &data.1), 1, agree, sgd);
        let d = max_diff(
            &variable(&s, "features.conv1.weight"),
            &variable(&equal, "features.conv1.weight"),
        );
        let conflicts = s.take_metrics().unwrap().domain_loss;
        // One step from one start: without a conflict PCGrad's step is the mean's, with one it is not.
        if agree {
            assert!(
                d < 1e-8 && conflicts == 0.0,
                "pcgrad on one task twice: {d}, conflicts {conflicts}"
            );
        } else {
            assert!(
                d > 1e-7 && conflicts > 0.0,
                "pcgrad on conflicting tasks: {d}, conflicts {conflicts}"
            );
        }
    }
}

#[test]
fn mgda_ub_weighs_the_tasks_unequally_where_their_gradients_differ() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(1);
    let data = two_tasks(1024, "random");
    let equal = train("equal", &[], &data, 20);
    let mut s = train("mgda-ub", &[], &data, 20);
    let d = max_diff(
        &variable(&s, "features.conv1.weight"),
        &variable(&equal, "features.conv1.weight"),
    );
    // The mean weight of task 0 over the steps: on the simplex, and not the equal weighting's 0.5.
    let a0 = s.take_metrics().unwrap().domain_loss;
    assert!(
        d > 1e-4 && (0.0..=1.0).contains(&a0) && (a0 - 0.5).abs() > 0.02,
        "{d}, a0 {a0}"
    );
}

#[test]
fn weightings_refuse_a_net_or_labels_without_tasks() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(0);
    let spec = MethodSpec::new("equal".parse().unwrap(), &BTreeMap::new()).unwrap();
    let mut s = Adapt::build(MultiLeNet::new(CPU, 2), spec, &backbone_groups(1.0), Update::adam(0.0)).unwrap();
    let x = Tensor::zeros([4, 1, 28, 28], (Kind::Float, CPU));
    let y = Tensor::zeros([4], (Kind::Int64, CPU));
    let b = StepBatch {
        labelled: (&x, &y),
        unlabelled: None,
        unlabelled_index: None,
        domains: 1,
    };
    let e = s.train_step(&b, 1e-2, 1.0).unwrap_err().to_string();
    assert!(
        e.contains("equal") && e.contains("2 head(s)") && e.contains("[4]"),
        "{e}"
    );
    let e = task_accuracies(s.network(), &x, &y, 2).unwrap_err().to_string();
    assert!(e.contains("labels of shape [4]"), "{e}");
}
