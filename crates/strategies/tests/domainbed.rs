//! The domain generalisation methods (DomainBed's algorithms): each loss against its PyTorch statement
//! (`fixtures/domainbed/domainbed_loss.py`), and each method's defining behaviour on small synthetic
//! multi-domain problems.

mod common;

use common::{fixture, max_diff, tensor};
use shift_strategies::methods::domain_adversarial::{discriminator_loss, gradient_penalty};
use shift_strategies::methods::domain_alignment::Distance;
use shift_strategies::methods::group_dro::next_weights;
use shift_strategies::methods::irm::irm_penalty;
use shift_strategies::methods::mixup::{mix, mixup_objective};
use shift_strategies::methods::vrex::risk_variance;
use shift_tensor::tch::{Kind, Tensor};

fn float(v: &serde_json::Value) -> Tensor {
    tensor(v).to_kind(Kind::Float)
}

fn long(v: &serde_json::Value) -> Tensor {
    tensor(v).to_kind(Kind::Int64)
}

fn close(got: &Tensor, want: f64, what: &str) {
    let got = got.double_value(&[]);
    assert!(
        (got - want).abs() < 1e-5 * want.abs().max(1.0),
        "{what}: {got} against {want}"
    );
}

#[test]
fn irm_s_penalty_is_the_product_of_the_two_halves_scale_gradients() {
    let fx = fixture("domainbed");
    let (z, y) = (float(&fx["logits"]), long(&fx["labels"]));
    for e in 0..3 {
        close(
            &irm_penalty(&z.get(e), &y.get(e)),
            fx["irm_penalty"][e as usize].as_f64().unwrap(),
            "irm",
        );
    }
}

#[test]
fn vrex_s_penalty_is_the_variance_of_the_domains_risks() {
    let fx = fixture("domainbed");
    close(
        &risk_variance(&float(&fx["losses"])),
        fx["vrex_penalty"].as_f64().unwrap(),
        "vrex",
    );
    // Equal risks: no penalty.
    assert_eq!(
        risk_variance(&Tensor::from_slice(&[0.7f32, 0.7, 0.7])).double_value(&[]),
        0.0
    );
}

#[test]
fn group_dro_s_weights_rise_with_each_domain_s_risk_over_steps() {
    let fx = fixture("domainbed");
    let eta = fx["groupdro_eta"].as_f64().unwrap();
    let losses = float(&fx["losses"]);
    let mut q = Tensor::ones([3], (Kind::Float, shift_tensor::tch::Device::Cpu));
    for (step, l) in [losses.shallow_clone(), &losses * 0.5].iter().enumerate() {
        q = next_weights(&q, l, eta);
        assert!(max_diff(&q, &float(&fx["groupdro_q"][step])) < 1e-6, "step {step}");
        close(
            &(l * &q).sum(Kind::Float),
            fx["groupdro_loss"][step].as_f64().unwrap(),
            "groupdro loss",
        );
    }
}

#[test]
fn mixup_mixes_each_domain_with_the_next_in_the_cycle() {
    let fx = fixture("domainbed");
    let (x, y) = (float(&fx["mixup_x"]), long(&fx["labels"]));
    let blocks: Vec<(Tensor, Tensor)> = (0..3).map(|e| (x.get(e), y.get(e))).collect();
    let order: Vec<usize> = fx["mixup_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let lam = float(&fx["mixup_lam"]);
    let (mixed, yi, yj) = mix(&blocks, &order, &lam);
    assert!(max_diff(&mixed, &float(&fx["mixup_mixed"]).flatten(0, 1)) < 1e-6);
    let z = mixed.mm(&float(&fx["mixup_w"]));
    close(
        &mixup_objective(&z, &yi, &yj, &lam),
        fx["mixup_objective"].as_f64().unwrap(),
        "mixup",
    );
}

#[test]
fn coral_and_mmd_average_their_distance_over_every_pair_of_domains() {
    let fx = fixture("domainbed");
    let f = float(&fx["features"]);
    let per: Vec<Tensor> = (0..3).map(|e| f.get(e)).collect();
    close(
        &Distance::Coral.pairwise(&per),
        fx["coral_penalty"].as_f64().unwrap(),
        "coral",
    );
    close(
        &Distance::Mmd.pairwise(&per),
        fx["mmd_penalty"].as_f64().unwrap(),
        "mmd",
    );
    // Identical domains are at distance 0 (MMD up to the clamp of the squared distances).
    let same = vec![per[0].shallow_clone(), per[0].shallow_clone()];
    assert!(Distance::Coral.pairwise(&same).double_value(&[]).abs() < 1e-12);
    assert!(Distance::Mmd.pairwise(&same).double_value(&[]).abs() < 1e-5);
}

#[test]
fn the_discriminator_losses_and_the_gradient_penalty_match_domainbed() {
    let fx = fixture("domainbed");
    let h = float(&fx["h"]).set_requires_grad(true);
    let out = h.mm(&float(&fx["wd"]));
    let domain = Tensor::arange(3, (Kind::Int64, h.device())).repeat_interleave_self_int(8, 0, None);
    let y = long(&fx["labels"]).flatten(0, 1);
    close(
        &discriminator_loss(&out, &domain, None),
        fx["dann_loss"].as_f64().unwrap(),
        "dann",
    );
    close(
        &discriminator_loss(&out, &domain, Some(&y)),
        fx["cdann_loss"].as_f64().unwrap(),
        "cdann",
    );
    let gp = gradient_penalty(&out, &h, &domain);
    close(&gp, fx["gradient_penalty"].as_f64().unwrap(), "gradient penalty");
    // The penalty is differentiable (its graph was kept): the discriminator's step can back-propagate it.
    assert!(gp.requires_grad());
}
