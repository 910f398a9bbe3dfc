//! Row order for flush, bulk load and compaction: (partition, tags, time).
//!
//! Encoding every row's tag strings into one comparable byte string and
//! sorting those (arrow's row format) spends most of its time copying and
//! comparing the same few thousand tag tuples over and over. Here each row's
//! tag tuple is interned once into a series id (a row that repeats the
//! previous row's tags costs no hash), the distinct series are ranked by
//! comparing their tag values, and rows are sorted by fixed-size keys
//! (partition, series rank, time, row).
//!
//! The order equals a lexicographic sort with arrow's default options
//! (ascending, NULLs first) on (partition, tag columns..., time).

use std::cmp::Ordering;
use std::hash::{BuildHasher, Hasher};

use std::sync::Arc;

use arrow::array::{
    downcast_dictionary_array, Array, ArrayRef, AsArray, BooleanBufferBuilder, DictionaryArray,
    StringArray, UInt32Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowNativeType, DataType};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

/// Per-row series numbers of a batch: `ids[row]` names a distinct tag tuple,
/// `rank[id]` is that tuple's position in sorted order.
pub(crate) struct Series {
    pub ids: Vec<u32>,
    pub rank: Vec<u32>,
    /// Per id, the first row that holds its tag tuple.
    pub first_row: Vec<usize>,
}

impl Series {
    /// The series of `ids` / `first_row`, with `by_rank` listing the ids in
    /// sorted order.
    fn ranked(ids: Vec<u32>, first_row: Vec<usize>, by_rank: &[u32]) -> Series {
        let mut rank = vec![0u32; by_rank.len()];
        for (r, id) in by_rank.iter().enumerate() {
            rank[*id as usize] = r as u32;
        }
        Series {
            ids,
            rank,
            first_row,
        }
    }
}

/// Interns the tag tuples of `tags` (all Utf8 columns of equal length).
/// Returns None when a tag column is not Utf8.
pub(crate) fn series(tags: &[ArrayRef], rows: usize) -> Option<Series> {
    series_of_batches(tags, rows, &[])
}

/// Whether `col` is a dictionary of strings (what [`series_of_codes`] takes).
pub(crate) fn is_string_dictionary(col: &ArrayRef) -> bool {
    matches!(col.data_type(), DataType::Dictionary(_, v) if v.as_ref() == &DataType::Utf8)
}

/// `series` for tag columns that are all dictionaries of strings (Parquet
/// imports and compact memtable batches): each row's tag tuple becomes one
/// 128-bit key, the ranks of its values in string order packed first
/// column first, so that keys compare as the tuples do and interning hashes
/// integers instead of strings. `None` when the ranks need more than 128
/// bits (or a column is not such a dictionary): use [`series_of_batches`]
/// on the columns cast to Utf8.
pub(crate) fn series_of_codes(tags: &[ArrayRef], rows: usize) -> Option<Series> {
    let mut keys = vec![0u128; rows];
    let mut bits_used = 0u32;
    for col in tags {
        if col.len() != rows || !is_string_dictionary(col) {
            return None;
        }
        let dict = col.as_any_dictionary();
        let (ranks, distinct) = value_ranks(dict.values().as_string::<i32>());
        let bits = u32::BITS - distinct.leading_zeros();
        bits_used += bits;
        if bits_used > u128::BITS {
            return None;
        }
        downcast_dictionary_array!(
            col => {
                let valid = col.keys().nulls();
                for (row, k) in col.keys().values().iter().enumerate() {
                    let present = valid.is_none_or(|n| n.is_valid(row));
                    // NULL keys (and any key out of range) rank 0, before
                    // every value, as arrow's default sort puts NULLs first.
                    let rank = if present {
                        ranks.get(k.as_usize()).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    keys[row] = (keys[row] << bits) | u128::from(rank);
                }
            },
            _ => return None
        );
    }
    let mut index: HashMap<u128, u32> = HashMap::new();
    let mut first_row: Vec<usize> = Vec::new();
    let mut ids = Vec::with_capacity(rows);
    for (row, &key) in keys.iter().enumerate() {
        // Rows of one series are often adjacent: no hash for a repeat.
        if row > 0 && keys[row - 1] == key {
            ids.push(ids[row - 1]);
            continue;
        }
        let next = first_row.len() as u32;
        let id = *index.entry(key).or_insert_with(|| {
            first_row.push(row);
            next
        });
        ids.push(id);
    }
    let mut by_rank: Vec<u32> = (0..first_row.len() as u32).collect();
    by_rank.sort_unstable_by_key(|id| keys[first_row[*id as usize]]);
    Some(Series::ranked(ids, first_row, &by_rank))
}

/// Per dictionary entry, the rank of its string among the distinct strings
/// (from 1, in byte order; equal strings share a rank, NULL entries get 0),
/// and the number of distinct strings.
fn value_ranks(values: &StringArray) -> (Vec<u32>, u32) {
    let mut entries: Vec<usize> = (0..values.len()).filter(|i| values.is_valid(*i)).collect();
    entries.sort_unstable_by_key(|i| values.value(*i));
    let mut ranks = vec![0u32; values.len()];
    let mut distinct = 0u32;
    let mut previous: Option<&str> = None;
    for i in entries {
        let v = values.value(i);
        if previous != Some(v) {
            distinct += 1;
            previous = Some(v);
        }
        ranks[i] = distinct;
    }
    (ranks, distinct)
}

/// `series` for tag columns that concatenate batches starting at the rows
/// `starts`: a batch whose tag values repeat the previous batch's row for
/// row (the same series written again at the next time step, the common
/// case of scrapes and agents) takes that batch's ids after one compare
/// of each column's bytes, without hashing its rows.
pub(crate) fn series_of_batches(
    tags: &[ArrayRef],
    rows: usize,
    starts: &[usize],
) -> Option<Series> {
    let cols: Vec<&StringArray> = tags
        .iter()
        .map(|c| (c.data_type() == &DataType::Utf8).then(|| c.as_string::<i32>()))
        .collect::<Option<_>>()?;
    let same = |a: usize, b: usize| cols.iter().all(|c| same_value(c, a, b));
    let state = DefaultHashBuilder::default();
    let hash = |row: usize| {
        let mut h = state.build_hasher();
        for c in &cols {
            match value(c, row) {
                Some(v) => {
                    h.write_usize(v.len());
                    h.write(v.as_bytes());
                }
                None => h.write_u8(0xff),
            }
        }
        h.finish()
    };
    let mut first_row: Vec<usize> = Vec::new();
    // Per id, the id of the row after its row that was last hashed.
    let mut next_of: Vec<u32> = Vec::new();
    let mut table: HashTable<u32> = HashTable::new();
    let mut ids = Vec::with_capacity(rows);
    let mut batches = starts.iter().copied().filter(|&s| s < rows).peekable();
    let mut previous: Option<(usize, usize)> = None;
    let mut row = 0;
    while row < rows {
        if batches.peek() == Some(&row) {
            batches.next();
            let end = batches.peek().copied().unwrap_or(rows);
            if let Some((p, len)) = previous.filter(|&(_, len)| len == end - row) {
                if cols.iter().all(|c| repeats(c, p, row, len)) {
                    ids.extend_from_within(p..p + len);
                    previous = Some((row, len));
                    row = end;
                    continue;
                }
            }
            previous = Some((row, end - row));
        }
        if row > 0 && same(row, row - 1) {
            ids.push(ids[row - 1]);
            row += 1;
            continue;
        }
        // Series often come round in the same order (one row per series
        // and time step): try the series that followed the previous row's
        // last time before hashing.
        let after = row
            .checked_sub(1)
            .and_then(|p| next_of.get(ids[p] as usize))
            .copied()
            .filter(|&guess| guess != u32::MAX && same(first_row[guess as usize], row));
        if let Some(id) = after {
            ids.push(id);
            row += 1;
            continue;
        }
        let entry = table.entry(
            hash(row),
            |&id| same(first_row[id as usize], row),
            |&id| hash(first_row[id as usize]),
        );
        let id = *entry
            .or_insert_with(|| {
                first_row.push(row);
                next_of.push(u32::MAX);
                first_row.len() as u32 - 1
            })
            .get();
        if let Some(p) = row.checked_sub(1) {
            next_of[ids[p] as usize] = id;
        }
        ids.push(id);
        row += 1;
    }
    let compare = |a: usize, b: usize| {
        cols.iter()
            .map(|c| value(c, a).cmp(&value(c, b)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    };
    let mut by_rank: Vec<u32> = (0..first_row.len() as u32).collect();
    by_rank.sort_unstable_by(|a, b| compare(first_row[*a as usize], first_row[*b as usize]));
    Some(Series::ranked(ids, first_row, &by_rank))
}

/// Whether rows `b..b + len` of `col` hold the values of rows `a..a + len`
/// (same lengths, bytes and validity; conservative: differing bytes under
/// NULLs count as different).
fn repeats(col: &StringArray, a: usize, b: usize, len: usize) -> bool {
    let off = col.value_offsets();
    let (a0, b0) = (off[a], off[b]);
    let lengths_match = off[a..=a + len]
        .iter()
        .zip(&off[b..=b + len])
        .fold(true, |ok, (x, y)| ok & (x - a0 == y - b0));
    if !lengths_match {
        return false;
    }
    let bytes = col.values();
    let (a1, b1) = (off[a + len] as usize, off[b + len] as usize);
    if bytes[a0 as usize..a1] != bytes[b0 as usize..b1] {
        return false;
    }
    match col.nulls() {
        None => true,
        Some(n) => (0..len).all(|i| n.is_valid(a + i) == n.is_valid(b + i)),
    }
}

fn value(col: &StringArray, row: usize) -> Option<&str> {
    col.is_valid(row).then(|| col.value(row))
}

/// Whether rows `a` and `b` of `col` hold the same value (two NULLs do).
#[inline]
fn same_value(col: &StringArray, a: usize, b: usize) -> bool {
    let (valid_a, valid_b) = (col.is_valid(a), col.is_valid(b));
    if !(valid_a && valid_b) {
        return valid_a == valid_b;
    }
    short_eq(col.value(a).as_bytes(), col.value(b).as_bytes())
}

/// `a == b` without a `memcmp` call for up to 16 bytes: tag values are
/// short, and a COPY compares about ten per row (4 % of its CPU went to
/// `memcmp` calls). Two overlapping loads cover every byte.
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The string of `row` in a Utf8 column or a dictionary of strings (`None`
/// for NULL, and for a column of another type).
pub(crate) fn tag_value(col: &ArrayRef, row: usize) -> Option<&str> {
    if let Some(strings) = col.as_string_opt::<i32>() {
        return value(strings, row);
    }
    let key = downcast_dictionary_array!(
        col => col.key(row),
        _ => None
    )?;
    let values = col.as_any_dictionary().values().as_string_opt::<i32>()?;
    (key < values.len()).then(|| value(values, key)).flatten()
}

/// Tag column `col` (one of the columns `series` interned: Utf8 or a
/// dictionary of strings) with its rows in `order`, as a dictionary whose
/// entries are distinct and not NULL (NULL rows have NULL keys). Sorted
/// rows come in runs of one series, and every row of a series holds the
/// tag values of the series' first row, so each run repeats one key and no
/// string is copied. `runs` is [`runs`] of the order. `None` when `col`
/// holds no strings.
pub(crate) fn gather_tag(
    col: &ArrayRef,
    series: &Series,
    runs: &[(u32, usize)],
) -> Option<ArrayRef> {
    if col.as_string_opt::<i32>().is_none() && !is_string_dictionary(col) {
        return None;
    }
    // Per series, the key of its value.
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut entries: Vec<&str> = Vec::new();
    let key_of: Vec<Option<u32>> = series
        .first_row
        .iter()
        .map(|&row| {
            tag_value(col, row).map(|v| {
                let next = entries.len() as u32;
                *index.entry(v).or_insert_with(|| {
                    entries.push(v);
                    next
                })
            })
        })
        .collect();
    let rows = runs.iter().map(|r| r.1).sum();
    let mut keys: Vec<u32> = Vec::with_capacity(rows);
    let mut nulls = (col.logical_null_count() > 0).then(|| BooleanBufferBuilder::new(rows));
    for &(id, len) in runs {
        let key = key_of[id as usize];
        if let Some(nulls) = nulls.as_mut() {
            nulls.append_n(len, key.is_some());
        }
        keys.extend(std::iter::repeat_n(key.unwrap_or(0), len));
    }
    let keys = UInt32Array::new(keys.into(), nulls.map(|mut n| NullBuffer::new(n.finish())));
    let entries = StringArray::from_iter_values(entries);
    let array = DictionaryArray::try_new(keys, Arc::new(entries)).ok()?;
    Some(Arc::new(array))
}

/// `order` as runs of one series id: (id, rows).
pub(crate) fn runs(series: &Series, order: &[u32]) -> Vec<(u32, usize)> {
    let mut out: Vec<(u32, usize)> = Vec::new();
    for &row in order {
        let id = series.ids[row as usize];
        match out.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}

/// Row positions sorted by (partition, series rank, time, position).
///
/// Rows are bucketed by (partition, series) with a counting sort, which
/// keeps each bucket in row order; a bucket is then sorted by time only if
/// its rows are not in time order already (rows mostly arrive in time
/// order). With more buckets than rows, a comparison sort does it.
pub(crate) fn order(partitions: &[i64], series: &Series, times: &[i64]) -> Vec<u32> {
    let rows = times.len();
    let mut distinct: Vec<i64> = Vec::new();
    for &p in partitions {
        if distinct.last() != Some(&p) {
            distinct.push(p);
        }
    }
    distinct.sort_unstable();
    distinct.dedup();
    let per_partition = series.rank.len();
    let buckets = distinct.len().saturating_mul(per_partition);
    if buckets > rows.max(1 << 16) {
        return order_by_comparison(partitions, series, times);
    }
    let mut last = (i64::MIN, 0usize);
    let bucket: Vec<u32> = (0..rows)
        .map(|row| {
            let p = partitions[row];
            if p != last.0 || row == 0 {
                last = (p, distinct.partition_point(|d| *d < p));
            }
            (last.1 * per_partition + series.rank[series.ids[row] as usize] as usize) as u32
        })
        .collect();
    let mut starts = vec![0u32; buckets + 1];
    for &b in &bucket {
        starts[b as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut out = vec![0u32; rows];
    for (row, &b) in bucket.iter().enumerate() {
        let at = &mut next[b as usize];
        out[*at as usize] = row as u32;
        *at += 1;
    }
    for w in starts.windows(2) {
        let rows = &mut out[w[0] as usize..w[1] as usize];
        if !rows.is_sorted_by_key(|r| times[*r as usize]) {
            // Stable: equal times stay in row order.
            rows.sort_by_key(|r| times[*r as usize]);
        }
    }
    out
}

/// [`order`] by sorting (partition, series rank, time, position) keys.
fn order_by_comparison(partitions: &[i64], series: &Series, times: &[i64]) -> Vec<u32> {
    let mut keys: Vec<(i64, u32, i64, u32)> = (0..times.len())
        .map(|row| {
            (
                partitions[row],
                series.rank[series.ids[row] as usize],
                times[row],
                row as u32,
            )
        })
        .collect();
    keys.sort_unstable();
    keys.into_iter().map(|k| k.3).collect()
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int64Array};
    use arrow::compute::{lexsort_to_indices, SortColumn};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// `short_eq` is `==` for every length around its load sizes, on
        /// equal slices and slices that differ in any one byte.
        #[test]
        fn short_eq_is_slice_equality(
            a in prop::collection::vec(any::<u8>(), 0..40),
            flip in any::<prop::sample::Index>(),
            other_len in 0usize..40,
        ) {
            prop_assert!(short_eq(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                b[flip.index(a.len())] ^= 1;
                prop_assert!(!short_eq(&a, &b));
            }
            let c: Vec<u8> = a.iter().copied().cycle().take(other_len).collect();
            prop_assert_eq!(short_eq(&a, &c), a == c);
        }
    }

    type Row = (Option<u8>, Option<u8>, i64, i64);

    /// A gathered tag column as Utf8, after checking that its dictionary
    /// entries are distinct and never NULL.
    fn as_strings(gathered: &ArrayRef) -> ArrayRef {
        let entries = gathered.as_any_dictionary().values().as_string::<i32>();
        assert_eq!(entries.null_count(), 0);
        let distinct: std::collections::HashSet<&str> = entries.iter().flatten().collect();
        assert_eq!(distinct.len(), entries.len(), "distinct entries");
        arrow::compute::cast(gathered, &DataType::Utf8).unwrap()
    }

    /// `strings` as a dictionary whose values come in reverse order, each
    /// twice, after an unused value that sorts first.
    fn as_dictionary(strings: &StringArray) -> ArrayRef {
        let mut distinct: Vec<&str> = strings.iter().flatten().collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.reverse();
        let mut values = vec![""];
        values.extend(distinct.iter().flat_map(|v| [*v, *v]));
        let keys: Int32Array = strings
            .iter()
            .enumerate()
            .map(|(row, v)| {
                v.map(|v| {
                    let at = distinct.iter().position(|d| *d == v).unwrap();
                    (1 + 2 * at + row % 2) as i32
                })
            })
            .collect();
        Arc::new(DictionaryArray::try_new(keys, Arc::new(StringArray::from(values))).unwrap())
    }

    #[test]
    fn tags_beyond_128_bits_of_codes_are_left_to_the_strings() {
        // 17 columns of 128 distinct values need 17 * 8 bits.
        let col = StringArray::from_iter_values((0..256).map(|i| format!("v{}", i % 128)));
        let tags: Vec<ArrayRef> = (0..17).map(|_| as_dictionary(&col)).collect();
        assert!(series_of_codes(&tags, 256).is_none());
        assert_eq!(series_of_codes(&tags[..16], 256).unwrap().rank.len(), 128);
        // A Utf8 column among them is not coded either.
        let mixed = vec![tags[0].clone(), Arc::new(col) as ArrayRef];
        assert!(series_of_codes(&mixed, 256).is_none());
    }

    proptest! {
        /// Batches that repeat the previous batch's tags take their ids by
        /// the shortcut, and the result is the one hashing every row gives
        /// (batches of equal length but other values, or the same bytes
        /// split differently, take the slow path).
        #[test]
        fn repeated_batches_take_the_ids_hashing_gives(
            batches in proptest::collection::vec(
                (proptest::collection::vec((proptest::option::of(0u8..3), proptest::option::of(0u8..2)), 0..6), any::<bool>()),
                0..8,
            )
        ) {
            let mut all: Vec<(Option<u8>, Option<u8>)> = Vec::new();
            let mut starts = Vec::new();
            let mut previous = Vec::new();
            for (rows, repeat) in batches {
                let rows = if repeat { previous.clone() } else { rows };
                starts.push(all.len());
                all.extend(rows.iter().copied());
                previous = rows;
            }
            // Equal lengths with other bytes ("ab" / "dc" / "ba").
            let text = |v: Option<u8>| v.map(|v| ["ab", "c", "dc"][v as usize].to_string());
            let text1 = |v: Option<u8>| v.map(|v| ["ab", "ba"][v as usize].to_string());
            let tags: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter(all.iter().map(|r| text(r.0)))),
                Arc::new(StringArray::from_iter(all.iter().map(|r| text1(r.1)))),
            ];
            let fast = series_of_batches(&tags, all.len(), &starts).unwrap();
            let slow = series(&tags, all.len()).unwrap();
            // Ids in order of first appearance, as a map of tuples gives.
            let mut seen: std::collections::HashMap<(Option<u8>, Option<u8>), u32> = Default::default();
            let (mut ids, mut first_row) = (Vec::new(), Vec::new());
            for (row, r) in all.iter().enumerate() {
                let next = seen.len() as u32;
                ids.push(*seen.entry(*r).or_insert_with(|| {
                    first_row.push(row);
                    next
                }));
            }
            prop_assert_eq!(&slow.ids, &ids);
            prop_assert_eq!(&slow.first_row, &first_row);
            prop_assert_eq!(fast.ids, slow.ids);
            prop_assert_eq!(fast.rank, slow.rank);
            prop_assert_eq!(fast.first_row, slow.first_row);
        }

        #[test]
        fn order_matches_a_lexicographic_sort(
            rows in proptest::collection::vec(
                (proptest::option::of(0u8..4), proptest::option::of(0u8..3), 0i64..5, -3i64..3),
                0..200,
            )
        ) {
            let tag = |f: fn(&Row) -> Option<u8>| -> ArrayRef {
                Arc::new(StringArray::from_iter(rows.iter().map(|r| f(r).map(|v| format!("v{}", "x".repeat(v as usize))))))
            };
            let tags = vec![tag(|r| r.0), tag(|r| r.1)];
            let parts: Vec<i64> = rows.iter().map(|r| r.3).collect();
            let times: Vec<i64> = rows.iter().map(|r| r.2).collect();
            let s = series(&tags, rows.len()).unwrap();
            let got = order(&parts, &s, &times);
            prop_assert_eq!(&got, &order_by_comparison(&parts, &s, &times));
            let mut cols = vec![SortColumn { values: Arc::new(Int64Array::from(parts.clone())), options: None }];
            cols.extend(tags.iter().map(|t| SortColumn { values: t.clone(), options: None }));
            cols.push(SortColumn { values: Arc::new(Int64Array::from(times.clone())), options: None });
            let want = lexsort_to_indices(&cols, None).unwrap();
            // Equal keys may come in any order: compare the keys of both orders.
            let key = |i: u32| {
                let i = i as usize;
                (parts[i], rows[i].0, rows[i].1, times[i])
            };
            let got_keys: Vec<_> = got.iter().map(|i| key(*i)).collect();
            let want_keys: Vec<_> = want.values().iter().map(|i| key(*i)).collect();
            prop_assert_eq!(got_keys, want_keys);
            // Tag columns gathered by runs equal a row-by-row take, in the
            // sorted order and in the reverse of it.
            let mut reversed = got.clone();
            reversed.reverse();
            for o in [&got, &reversed] {
                for t in &tags {
                    let gathered = as_strings(&gather_tag(t, &s, &runs(&s, o)).unwrap());
                    let want = arrow::compute::take(t.as_ref(), &UInt32Array::from(o.clone()), None).unwrap();
                    prop_assert_eq!(gathered.as_ref(), want.as_ref());
                }
            }
            // The same tags as dictionaries (values out of order, repeated
            // and unused, keys NULL where the value is) intern to the same
            // series by their codes, and gather to the same strings.
            let dicts: Vec<ArrayRef> = tags.iter().map(|t| as_dictionary(t.as_string::<i32>())).collect();
            let coded = series_of_codes(&dicts, rows.len()).unwrap();
            prop_assert_eq!(&coded.ids, &s.ids);
            prop_assert_eq!(&coded.rank, &s.rank);
            prop_assert_eq!(&coded.first_row, &s.first_row);
            for (d, t) in dicts.iter().zip(&tags) {
                let (by_codes, by_strings) = (gather_tag(d, &coded, &runs(&coded, &got)).unwrap(), gather_tag(t, &s, &runs(&s, &got)).unwrap());
                let (by_codes, by_strings) = (as_strings(&by_codes), as_strings(&by_strings));
                prop_assert_eq!(by_codes.as_ref(), by_strings.as_ref());
            }
            // Equal tag tuples share an id, different ones do not.
            for a in 0..rows.len() {
                for b in 0..rows.len() {
                    let eq = rows[a].0 == rows[b].0 && rows[a].1 == rows[b].1;
                    prop_assert_eq!(eq, s.ids[a] == s.ids[b]);
                }
            }
        }
    }
}
