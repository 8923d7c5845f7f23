use super::*;
use crate::fuzz::gen::Gen;

#[test]
fn max_runtime_sec_is_whole_seconds() {
    let features = vec!["progress".to_string()];
    let mut seen = 0;
    for it in 0..2000 {
        let mut g = Gen::new(7, it);
        if let Some(r) = job_spec(&mut g, &features, 1).max_runtime_sec {
            assert_eq!(r.fract(), 0.0, "max_runtime_sec {r}");
            seen += 1;
        }
    }
    assert!(seen > 0, "no job spec with a max_runtime_sec generated");
}
