//! The DataRow hot path allocates per batch, not per value: counted with a
//! thread-local allocation counter around `encode_batch`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, IntervalMonthDayNanoArray,
    RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::IntervalMonthDayNano;
use pgwire::api::portal::Format;

use super::*;

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the counter may already be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread-local that never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn batch(rows: usize) -> RecordBatch {
    let n = rows as i64;
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "ts",
            Arc::new(
                TimestampNanosecondArray::from_iter_values(
                    (0..n).map(|i| 1_700_000_000_123_456_789 + i * 1_000_017),
                )
                .with_timezone("UTC"),
            ),
        ),
        (
            "v",
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 / 7.0),
            )),
        ),
        ("n", Arc::new(Int64Array::from_iter_values(0..n))),
        (
            "host",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| {
                if i % 2 == 0 {
                    "a"
                } else {
                    "bb"
                }
            }))),
        ),
        (
            "d",
            Arc::new(Date32Array::from_iter_values((0..n).map(|i| i as i32))),
        ),
        (
            "p",
            Arc::new(
                Decimal128Array::from_iter_values((0..n).map(i128::from))
                    .with_precision_and_scale(12, 3)
                    .unwrap(),
            ),
        ),
        (
            "iv",
            Arc::new(IntervalMonthDayNanoArray::from_iter_values(
                (0..n).map(|i| IntervalMonthDayNano::new(1, 2, i * 1_000)),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

#[test]
fn encode_batch_does_not_allocate_per_value() {
    let rows = 4096;
    let batch = batch(rows);
    let settings = PgFormatSettings {
        timezone: PgFormatSettings::parse_timezone("Europe/Paris").unwrap(),
        ..PgFormatSettings::default()
    };
    for format in [Format::UnifiedText, Format::UnifiedBinary] {
        let fields = Arc::new(field_infos(&batch.schema(), &format).unwrap());
        let mut out = Vec::new();
        let n = allocations_during(|| out = encode_batch(&batch, &fields, &settings).unwrap());
        assert_eq!(out.len(), rows);
        // 28k values: a handful of buffer allocations, not one per value or row.
        assert!(n < 64, "{n} allocations for {rows} rows in {format:?}");
    }
}
