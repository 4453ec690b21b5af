//! Unit tests of the routing rule, the learned limit and the record of moves.

use super::*;

fn path(s: &str) -> RemotePath {
    RemotePath::parse(s.as_bytes()).unwrap()
}

fn wire(p: &RemotePath) -> Vec<String> {
    p.names()
        .map(|n| n.iter().map(|&b| char::from(b)).collect())
        .collect()
}

fn cwd(arg: &str, depth: usize) -> Step {
    Step::Cwd {
        arg: arg.into(),
        depth,
    }
}

#[test]
fn line_lengths_count_the_wire_bytes() {
    assert_eq!(line_len("NOOP"), 6);
    assert_eq!(line_len("MKD \u{ff}x"), 8);
    assert_eq!(line_len("MKD \u{e9}"), 7);
}

#[test]
fn a_short_path_is_one_absolute_cwd_as_before() {
    let target = path("/a/b/c");
    let w = wire(&target);
    let steps = route(None, &target, &w, SAFE_LINE).unwrap();
    assert_eq!(steps, [cwd("/a/b/c", 3)]);
    // Even from a neighbour or a child, where one relative command would do as well.
    for from in ["/a/b", "/a/b/c/d", "/a/b/x"] {
        let steps = route(Some(&path(from)), &target, &w, SAFE_LINE).unwrap();
        assert_eq!(steps, [cwd("/a/b/c", 3)], "from {from}");
    }
}

#[test]
fn a_long_path_is_entered_in_steps_that_each_fit() {
    let (a, b, c, d) = (
        "a".repeat(200),
        "b".repeat(200),
        "c".repeat(200),
        "d".repeat(90),
    );
    let target = path(&format!("/{a}/{b}/{c}/{d}"));
    let w = wire(&target);
    let steps = route(None, &target, &w, SAFE_LINE).unwrap();
    assert_eq!(
        steps,
        [cwd(&format!("/{a}/{b}"), 2), cwd(&format!("{c}/{d}"), 4)]
    );
    for budget in [SAFE_LINE, 300, 206] {
        let steps = route(None, &target, &w, budget).unwrap();
        for step in &steps {
            if let Step::Cwd { arg, .. } = step {
                assert!(
                    line_len(&format!("CWD {arg}")) <= budget,
                    "{budget}: {step:?}"
                );
            }
        }
    }
    // A name that does not fit in a line on its own.
    assert_eq!(route(None, &target, &w, 205), None);
}

#[test]
fn a_neighbour_deep_down_is_reached_by_cdup_when_that_is_shorter() {
    let names: Vec<String> = (0..6).map(|i| format!("{i}").repeat(240)).collect();
    let here = path(&format!("/{}", names.join("/")));
    let mut there_names = names.clone();
    there_names[5] = "x".repeat(240);
    let there = path(&format!("/{}", there_names.join("/")));
    let w = wire(&there);
    let steps = route(Some(&here), &there, &w, SAFE_LINE).unwrap();
    assert_eq!(steps, [Step::Up, cwd(&there_names[5], 6)]);
    // Without a known working directory: from the deepest absolute path that fits.
    // Two names fit in one line, not three.
    let steps = route(None, &there, &w, SAFE_LINE).unwrap();
    let two = |i: usize| format!("{}/{}", there_names[i], there_names[i + 1]);
    assert_eq!(
        steps,
        [
            cwd(&format!("/{}", two(0)), 2),
            cwd(&two(2), 4),
            cwd(&two(4), 6)
        ]
    );
    // From the root or from far up, the same.
    for from in [RemotePath::root(), path(&format!("/{}", names[0]))] {
        assert_eq!(route(Some(&from), &there, &w, SAFE_LINE).unwrap(), steps);
    }
}

#[test]
fn the_root_is_always_reachable() {
    let root = RemotePath::root();
    assert_eq!(route(None, &root, &[], 10).unwrap(), [cwd("/", 0)]);
}

#[test]
fn a_silence_is_learned_once_and_forgotten_when_contradicted() {
    let routes = Routes::new();
    assert_eq!(routes.budget(), SAFE_LINE);
    routes.answered(150);
    // Short lines and lines as short as one answered are stalls, not limits.
    assert!(!routes.silent(MIN_SUSPECT));
    assert!(!routes.silent(150));
    assert_eq!(routes.budget(), SAFE_LINE);
    assert!(routes.silent(300));
    assert_eq!(routes.budget(), 299);
    // A longer silence does not raise it, a shorter one lowers it.
    assert!(routes.silent(400));
    assert_eq!(routes.budget(), 299);
    assert!(routes.silent(250));
    assert_eq!(routes.budget(), 249);
    // A line that long answered after all (another session): it was a stall.
    routes.answered(260);
    assert_eq!(routes.budget(), SAFE_LINE);
    assert!(!routes.silent(200));
    assert!(routes.refused(4000));
    assert_eq!(routes.budget(), SAFE_LINE);
}

#[test]
fn moves_invalidate_working_directories_below_them() {
    let routes = Routes::new();
    let deep = path("/a/b/c");
    let g = routes.generation();
    assert!(routes.unmoved_since(&deep, g));
    routes.moved(&[&path("/a/x"), &path("/a/bb")]);
    assert!(routes.unmoved_since(&deep, g), "unrelated moves");
    routes.moved(&[&path("/a/b")]);
    assert!(!routes.unmoved_since(&deep, g));
    assert!(routes.unmoved_since(&path("/a"), g));
    let g2 = routes.generation();
    assert!(routes.unmoved_since(&deep, g2));
    // Older than everything remembered: not trusted.
    for i in 0..=MOVES_KEPT {
        routes.moved(&[&path(&format!("/z{i}"))]);
    }
    assert!(routes.unmoved_since(&deep, g2 + 1));
    assert!(!routes.unmoved_since(&deep, g2));
}

#[test]
fn mlsd_is_given_up_only_deep_down_and_below_where_it_worked() {
    let routes = Routes::new();
    assert!(routes.mlsd_fits(5000));
    assert!(
        !routes.mlsd_broke(MLSD_SUSPECT),
        "shallow: the network's fault"
    );
    routes.mlsd_worked(2010);
    assert!(!routes.mlsd_broke(2000));
    assert!(routes.mlsd_broke(2211));
    assert!(routes.mlsd_fits(2210) && !routes.mlsd_fits(2211) && !routes.mlsd_fits(3000));
    assert!(routes.mlsd_broke(2100));
    assert!(!routes.mlsd_fits(2100));
}
