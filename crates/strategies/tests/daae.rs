//! DAAE against its formula (the PyTorch fixture `fixtures/daae/`), and its defining term: the reconstruction of
//! both domains from the latent sequence, which trains the decoder only while it is weighted.

mod common;

use common::{max_diff, tensor};
use shift_models::audio_cnn::AudioCnn;
use shift_models::{AdaptNet, DiscriminatorShape, DomainDiscriminator, SequenceLayout};
use shift_strategies::methods::daae::{daae_terms, Daae, Decoder};
use shift_strategies::methods::{BuildContext, Lambda};
use shift_strategies::{backbone_groups, Adapt, MethodSpec, StepBatch, Strategy, Update};
use shift_tensor::tch::{nn, Device, Kind, Tensor};

/// The tests draw from libtorch's process-wide generator: one at a time.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The domain term and the gradient at the latent sequence through the reversal layer at 1 to 1e-10 in double
/// precision; the loss to 1e-6 (tch's cross-entropy takes its log-softmax in single precision).
#[test]
fn the_loss_and_the_reversed_gradient_match_the_pytorch_fixture() {
    let _rng = rng_lock();
    let fx = common::fixture("daae");
    let l = &fx["layout"];
    let layout = SequenceLayout {
        bands: l["bands"].as_i64().unwrap(),
        frames_per_step: l["frames_per_step"].as_i64().unwrap(),
        dim: l["dim"].as_i64().unwrap(),
    };
    let mut vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root() / "discriminator";
    let decoder = Decoder::new(&(&p / "decoder"), layout);
    let shape = DiscriminatorShape {
        hidden: vec![100],
        dropout: 0.0,
    };
    let discriminator = DomainDiscriminator::new(&(&p / "domain"), layout.dim, &shape);
    vs.double();
    let vars = vs.variables();
    assert_eq!(vars.len(), 8);
    for (name, value) in fx["weights"].as_object().unwrap() {
        shift_tensor::tch::no_grad(|| vars[name].shallow_clone().copy_(&tensor(value)));
    }
    let sequence = tensor(&fx["sequence"]).set_requires_grad(true);
    let ys = tensor(&fx["ys"]).to_kind(Kind::Int64);
    let terms = daae_terms(
        &decoder,
        &discriminator,
        &sequence,
        &tensor(&fx["logits"]),
        (&tensor(&fx["x"]), &ys, &tensor(&fx["domain"])),
        |c| Lambda::Host(1.0).reverse(c),
        fx["alpha"].as_f64().unwrap(),
    )
    .unwrap();
    let close = |got: &Tensor, key: &str, tolerance: f64| {
        let want = fx[key].as_f64().unwrap();
        let d = (got.double_value(&[]) - want).abs();
        assert!(d < tolerance, "{key}: {} vs {want} ({d})", got.double_value(&[]));
    };
    close(&terms.loss, "loss", 1e-6);
    close(&terms.metrics[0], "ce", 1e-6);
    close(&terms.metrics[3], "bce", 1e-10);
    terms.loss.backward();
    let d = max_diff(&sequence.grad(), &tensor(&fx["grad_sequence"]));
    assert!(d < 1e-10, "the gradient at the sequence differs by {d}");
}

/// The decoder of a trained strategy's state (`model.discriminator.decoder.*`), in a VarStore of its own.
fn trained_decoder(s: &dyn Strategy, layout: SequenceLayout) -> (nn::VarStore, Decoder) {
    let vs = nn::VarStore::new(Device::Cpu);
    let decoder = Decoder::new(&(vs.root() / "discriminator" / "decoder"), layout);
    let state = s.state();
    let mut vars = vs.variables();
    for (name, value) in &state {
        if let Some(var) = name.strip_prefix("model.").and_then(|n| vars.get_mut(n)) {
            shift_tensor::tch::no_grad(|| var.copy_(value));
        }
    }
    (vs, decoder)
}

/// 150 steps on random sequences: with the reconstruction weighted the decoder learns (its error on the target
/// falls by half); weighted 0 its weights never move from their start.
#[test]
fn the_decoder_learns_to_reconstruct_only_while_its_term_is_weighted() {
    let _rng = rng_lock();
    let train = |alpha: f64| {
        shift_tensor::seed_everything(3);
        let xs = Tensor::randn([16, 40, 16], (Kind::Float, Device::Cpu)).cumsum(2, Kind::Float) * 0.3;
        let xt = Tensor::randn([16, 40, 16], (Kind::Float, Device::Cpu)).cumsum(2, Kind::Float) * 0.3 + 1.0;
        let ys = Tensor::arange(16, (Kind::Int64, Device::Cpu)).remainder(10);
        let set = [("reconstruction".to_string(), alpha)].into_iter().collect();
        let spec = MethodSpec::new("daae".parse().unwrap(), &set).unwrap();
        let net = AudioCnn::new(Device::Cpu, 10);
        let layout = net.sequence_layout().unwrap();
        let mut s = Adapt::build(net, spec, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).unwrap();
        let error = |s: &dyn Strategy| {
            let (_vs, decoder) = trained_decoder(s, layout);
            let sequence = s.network().sequence(&xt, false).unwrap();
            decoder.error(&sequence, &xt).double_value(&[])
        };
        let decoder_weights = |s: &dyn Strategy| -> Vec<Tensor> {
            let state = s.state();
            let mut named: Vec<_> = state
                .into_iter()
                .filter(|(n, _)| n.starts_with("model.discriminator.decoder."))
                .collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            named.into_iter().map(|(_, t)| t.copy()).collect()
        };
        let (start, before) = (error(&s), decoder_weights(&s));
        assert_eq!(before.len(), 4);
        for _ in 0..150 {
            let batch = StepBatch {
                domains: 1,
                labelled: (&xs, &ys),
                unlabelled: Some(&xt),
                unlabelled_index: None,
            };
            s.train_step(&batch, 0.01, 0.1).unwrap();
        }
        let moved = before.iter().zip(decoder_weights(&s)).any(|(a, b)| !a.equal(&b));
        (start, error(&s), moved)
    };
    let (start, on, moved_on) = train(1.0);
    let (_, _, moved_off) = train(0.0);
    assert!(
        moved_on && on < 0.5 * start,
        "weighted, the decoder learns: {start} -> {on}"
    );
    assert!(!moved_off, "weighted 0, the decoder does not move");
}

/// A backbone without a latent sequence is refused when DAAE is built, naming it.
#[test]
fn daae_refuses_a_backbone_without_a_sequence() {
    let _rng = rng_lock();
    let net = shift_models::mlp::MlpNet::new(Device::Cpu, 2, &[4], 2);
    let spec = MethodSpec::new("daae".parse().unwrap(), &Default::default()).unwrap();
    let e = Daae::new(&BuildContext { net: &net, spec: &spec })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("daae reconstructs the input from a latent sequence over time; this backbone has none"),
        "{e}"
    );
}
