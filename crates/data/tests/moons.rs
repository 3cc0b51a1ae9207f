//! The moons against `fixtures/moons/moons.py` (the authors' construction through scikit-learn's `make_moons`,
//! without noise): the same points, classes, centring, scale and rotation.

use shift_data::moons::trans_moons;

#[test]
fn noise_free_moons_match_scikit_learns_construction_centred_doubled_and_rotated() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/moons/moons.json");
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let per_class = want["per_class"].as_u64().unwrap() as usize;
    let got = trans_moons(per_class, want["angle"].as_f64().unwrap(), 0.0, 0);
    let points = |v: &serde_json::Value| -> Vec<[f64; 2]> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
            .collect()
    };
    let classes: Vec<i64> = want["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect();
    for (name, domain, expected) in [
        ("source", &got.source, points(&want["source"])),
        ("target", &got.target, points(&want["target"])),
    ] {
        assert_eq!(domain.classes, classes, "{name}");
        assert_eq!(domain.points.len(), expected.len(), "{name}");
        for (i, (p, q)) in domain.points.iter().zip(&expected).enumerate() {
            assert!(
                (p[0] - q[0]).abs() < 1e-12 && (p[1] - q[1]).abs() < 1e-12,
                "{name} {i}: {p:?} vs {q:?}"
            );
        }
    }
    // Rotation keeps distances from the centre: the target is the source turned, not moved.
    for (p, q) in got.source.points.iter().zip(&got.target.points) {
        assert!((p[0].hypot(p[1]) - q[0].hypot(q[1])).abs() < 1e-12);
    }
}
