//! Merging percentiles is exact and order-independent: any order and any
//! grouping of the sequences give identical JSON, equal to the statistics
//! of the pooled samples.

use dagbench_core::SequenceId;
use dagbench_flight::model::LegDelays;
use dagbench_flight::stats::{MergeError, MergedPercentiles, MetricStats, SequencePercentiles};
use proptest::prelude::*;

fn part(id: u32, legs: Vec<Vec<i32>>, last_landing: u32) -> SequencePercentiles {
    let legs: Vec<LegDelays> = legs
        .into_iter()
        .enumerate()
        .map(|(i, arr)| LegDelays {
            leg: i as u32 + 1,
            slack: None,
            dep_delay: arr.iter().map(|a| a + 3).collect(),
            primary_delay: arr.iter().map(|&a| a.max(0)).collect(),
            propagated_delay: arr.iter().map(|&a| (a / 2).max(0)).collect(),
            enroute_delta: vec![-3; arr.len()],
            arr_delay: arr,
        })
        .collect();
    SequencePercentiles::from_legs(SequenceId(id), last_landing, &legs)
}

fn arb_parts() -> impl Strategy<Value = Vec<SequencePercentiles>> {
    (1usize..6).prop_flat_map(|samples| {
        prop::collection::vec(
            (
                prop::collection::vec(prop::collection::vec(-30i32..400, samples), 1..4),
                1200u32..1379,
            ),
            1..12,
        )
        .prop_map(|seqs| {
            seqs.into_iter()
                .enumerate()
                .map(|(i, (legs, landing))| part(i as u32 + 1, legs, landing))
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn any_order_and_grouping_gives_identical_json(
        parts in arb_parts(),
        order in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let reference = serde_json::to_string(&MergedPercentiles::merge(&parts).unwrap()).unwrap();
        // A rotation and a reversal of the order.
        let mut shuffled = parts.clone();
        shuffled.rotate_left(order.index(parts.len()));
        shuffled.reverse();
        let again = serde_json::to_string(&MergedPercentiles::merge(&shuffled).unwrap()).unwrap();
        prop_assert_eq!(&again, &reference);
        // Two groups merged separately, then combined, in both orders.
        let at = cut.index(parts.len() + 1);
        let (a, b) = shuffled.split_at(at);
        let groups: Vec<MergedPercentiles> = [a, b]
            .into_iter()
            .filter(|g| !g.is_empty())
            .map(|g| MergedPercentiles::merge(g).unwrap())
            .collect();
        let combined = MergedPercentiles::combine(groups.iter().rev()).unwrap();
        prop_assert_eq!(serde_json::to_string(&combined).unwrap(), reference);
        // Equal to the statistics of the pooled samples.
        let pooled: Vec<i32> = parts
            .iter()
            .flat_map(|p| p.arr_delay.hist.values.iter().zip(&p.arr_delay.hist.counts).flat_map(|(&v, &c)| std::iter::repeat_n(v, c as usize)))
            .collect();
        prop_assert_eq!(&combined.arr_delay, &MetricStats::from_values(&pooled));
        prop_assert_eq!(combined.samples, parts.iter().map(|p| p.samples).sum::<u64>());
    }
}

#[test]
fn duplicates_and_empty_merges_are_errors() {
    let a = part(1, vec![vec![1, 2]], 1300);
    assert_eq!(
        MergedPercentiles::merge([&a, &a]).unwrap_err(),
        MergeError::Duplicate(SequenceId(1))
    );
    assert_eq!(
        MergedPercentiles::merge([]).unwrap_err().to_string(),
        "nothing to merge"
    );
}

#[test]
fn curfew_and_final_arrival() {
    // Landing 1370: arrival delays ≥ 10 breach the curfew.
    let p = part(4, vec![vec![0, 0], vec![9, 10]], 1370);
    assert_eq!((p.samples, p.curfew_breaches, p.legs), (2, 1, 2));
    assert_eq!(p.final_arr_delay.hist.values, vec![9, 10]);
    let merged = MergedPercentiles::merge([&p]).unwrap();
    assert_eq!(merged.curfew_share, 0.5);
    let json = serde_json::to_value(&merged).unwrap();
    assert_eq!(json["sequences"]["4"]["p50"], 9);
}
