//! Multi-head attention pooling over time (Vaswani et al., NeurIPS 2017, multi-head attention; one learned query
//! that attends over the frames, as in attention pooling of utterances): for a sequence `S` (`[B, T, E]`) and the
//! learned query `q` (`[E]`), with `h` heads of `d = E / h` values,
//!
//! ```text
//! Q = q W_q + b_q,  K = S W_k + b_k,  V = S W_v + b_v          (in_proj_weight = [W_q; W_k; W_v])
//! head_i = softmax(Q_i K_i^T / sqrt(d)) V_i                     (weights over the T frames)
//! pool(S) = concat(head_1, ..., head_h) W_o + b_o               (out_proj)
//! ```
//!
//! PyTorch's `nn.MultiheadAttention(E, h, batch_first=True)` with the query `q` for every example; its parameter
//! names (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) beside `query`
//! (fixture: `tests/fixtures/attention_pool/attention_pool.py`).

use shift_tensor::tch::{nn, Tensor};

#[derive(Debug)]
pub struct AttentionPool {
    query: Tensor,
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: nn::Linear,
    heads: i64,
}

impl AttentionPool {
    /// `heads` heads over `dim` values (`dim` a multiple of `heads`), initialised as PyTorch initialises
    /// `nn.MultiheadAttention` (Xavier-uniform input projection, zero biases; the output projection as a
    /// `Linear`, its bias zero), the query from N(0, 1).
    pub fn new(p: &nn::Path, dim: i64, heads: i64) -> Self {
        assert!(
            heads > 0 && dim % heads == 0,
            "attention pooling: {dim} values do not split into {heads} heads"
        );
        let xavier = (6.0 / (dim + 3 * dim) as f64).sqrt();
        let out_bound = 1.0 / (dim as f64).sqrt();
        Self {
            query: p.var("query", &[dim], nn::Init::Randn { mean: 0.0, stdev: 1.0 }),
            in_proj_weight: p.var(
                "in_proj_weight",
                &[3 * dim, dim],
                nn::Init::Uniform {
                    lo: -xavier,
                    up: xavier,
                },
            ),
            in_proj_bias: p.var("in_proj_bias", &[3 * dim], nn::Init::Const(0.0)),
            out_proj: nn::linear(
                p / "out_proj",
                dim,
                dim,
                nn::LinearConfig {
                    ws_init: nn::Init::Uniform {
                        lo: -out_bound,
                        up: out_bound,
                    },
                    bs_init: Some(nn::Init::Const(0.0)),
                    bias: true,
                },
            ),
            heads,
        }
    }

    /// The attention weights over the frames, `[B, heads, T]` (each row sums to 1), and the pooled vectors,
    /// `[B, E]`, of `sequence` (`[B, T, E]`).
    pub fn forward_with_weights(&self, sequence: &Tensor) -> (Tensor, Tensor) {
        let (b, t, e) = sequence
            .size3()
            .expect("attention pooling takes [batch, frames, values]");
        let d = e / self.heads;
        let w = self.in_proj_weight.chunk(3, 0);
        let bias = self.in_proj_bias.chunk(3, 0);
        let q = (self.query.matmul(&w[0].tr()) + &bias[0]).view([1, self.heads, 1, d]);
        let k = (sequence.matmul(&w[1].tr()) + &bias[1])
            .view([b, t, self.heads, d])
            .permute([0, 2, 3, 1]);
        let v = (sequence.matmul(&w[2].tr()) + &bias[2])
            .view([b, t, self.heads, d])
            .transpose(1, 2);
        // [B, h, 1, T]: one weight per frame and head.
        let weights = (q.matmul(&k) / (d as f64).sqrt()).softmax(-1, sequence.kind());
        let heads = weights.matmul(&v).view([b, e]);
        (weights.squeeze_dim(2), nn::Module::forward(&self.out_proj, &heads))
    }

    /// The pooled vectors, `[B, E]`, of `sequence` (`[B, T, E]`).
    pub fn forward(&self, sequence: &Tensor) -> Tensor {
        self.forward_with_weights(sequence).1
    }
}
