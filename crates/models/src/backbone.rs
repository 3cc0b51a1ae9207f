//! The digit backbones a run can name (`backbone` in the configuration, `--backbone`): the paper's digit net
//! (the default), the same net with batch norm and dropout, and the small CNN of VADA / DIRT-T with or without
//! instance-normalised input.

use crate::{digit::DigitNet, digit_bn::DigitBnNet, vada_cnn::VadaCnn, AdaptNet};
use shift_tensor::tch::Device;
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigitBackbone {
    /// `digit`: Ganin et al.'s digit net (JMLR 2016, Fig. 4a).
    #[default]
    Digit,
    /// `digit-bn`: the same layers with batch norm and dropout.
    DigitBn,
    /// `vada-cnn`: the small CNN of Shu et al. (ICLR 2018); `vada-cnn-in` normalises each input image first.
    VadaCnn { instance_norm: bool },
}

impl DigitBackbone {
    /// Every name, in the order `--help` lists them.
    pub const NAMES: [&'static str; 4] = ["digit", "digit-bn", "vada-cnn", "vada-cnn-in"];

    /// The network, freshly initialised from libtorch's generator.
    pub fn build(self, device: Device) -> Box<dyn AdaptNet> {
        match self {
            Self::Digit => Box::new(DigitNet::new(device)),
            Self::DigitBn => Box::new(DigitBnNet::new(device)),
            Self::VadaCnn { instance_norm } => Box::new(VadaCnn::new(device, instance_norm)),
        }
    }
}

impl fmt::Display for DigitBackbone {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Digit => "digit",
            Self::DigitBn => "digit-bn",
            Self::VadaCnn { instance_norm: false } => "vada-cnn",
            Self::VadaCnn { instance_norm: true } => "vada-cnn-in",
        })
    }
}

impl FromStr for DigitBackbone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "digit" => Self::Digit,
            "digit-bn" => Self::DigitBn,
            "vada-cnn" => Self::VadaCnn { instance_norm: false },
            "vada-cnn-in" => Self::VadaCnn { instance_norm: true },
            _ => {
                return Err(format!(
                    "`{s}` is not a digit backbone (one of {})",
                    Self::NAMES.join(", ")
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::{Kind, Tensor};

    /// Every digit backbone takes 3 x 32 x 32 images to its feature size and 10 logits, in both modes, and its
    /// twin (a teacher) has exactly its variables, named below the twin's path.
    #[test]
    fn every_backbone_has_its_shapes_and_a_twin_with_its_variables() {
        for name in DigitBackbone::NAMES {
            let net = name.parse::<DigitBackbone>().unwrap().build(Device::Cpu);
            let x = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
            for train in [true, false] {
                let f = net.features(&x, train);
                assert_eq!(f.size(), [4, net.feature_dim()], "{name}");
                assert_eq!(net.classify(&f, train).size(), [4, 10], "{name}");
            }
            let twin = net
                .twin(&(net.var_store().root() / "teacher"))
                .expect("digit backbones have twins");
            assert_eq!(twin.logits(&x, false).size(), [4, 10], "{name}");
            let vars = net.var_store().variables();
            let mut own: Vec<&String> = vars.keys().filter(|k| !k.starts_with("teacher.")).collect();
            let mut copied: Vec<String> = vars
                .keys()
                .filter_map(|k| k.strip_prefix("teacher.").map(str::to_string))
                .collect();
            own.sort();
            copied.sort();
            assert_eq!(own.into_iter().cloned().collect::<Vec<_>>(), copied, "{name}");
            // Batch norm is exposed exactly where the net has it.
            assert_eq!(net.statistics().is_some(), name != "digit", "{name}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for name in DigitBackbone::NAMES {
            assert_eq!(name.parse::<DigitBackbone>().unwrap().to_string(), name);
        }
        let err = "resnet50".parse::<DigitBackbone>().unwrap_err();
        assert!(err.contains("`resnet50` is not a digit backbone"), "{err}");
        assert!(err.contains("digit-bn"), "{err}");
    }
}
