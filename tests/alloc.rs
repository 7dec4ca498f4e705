//! The step loops allocate nothing: the number of heap allocations of a forward + backward
//! pass is the same for 4 and for 40 time steps, for every cell (counted per thread by a
//! counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ndarray::{Array3, ArrayD};
use recurrent::prelude::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a
// const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

type Build = fn(&mut StdRng) -> Box<dyn RecurrentLayer<f32>>;

/// Allocations of one forward + backward pass at T steps, on a fresh layer (first call:
/// its workspace is sized) and again on the same layer (steady state).
fn count(build: Build, t: usize) -> (usize, usize) {
    let (b, i) = (8, 12);
    let mut rng = StdRng::seed_from_u64(1);
    let mut layer = build(&mut rng);
    let h = layer.units();
    let x = Array3::<f32>::from_shape_fn((b, t, i), |(p, q, r)| ((p + 2 * q + 3 * r) % 7) as f32 * 0.1 - 0.3);
    let shape = if layer.return_sequences() { vec![b, t, h] } else { vec![b, h] };
    let g = ArrayD::<f32>::from_elem(shape, 0.5);
    let pass = |layer: &mut Box<dyn RecurrentLayer<f32>>| {
        let before = allocations();
        layer.forward(x.view().into_dyn(), Mode::Train).unwrap();
        layer.backward(g.view()).unwrap();
        allocations() - before
    };
    let first = pass(&mut layer);
    let steady = pass(&mut layer);
    (first, steady)
}

#[test]
fn allocations_do_not_grow_with_time_steps() {
    let cells: [(&str, Build); 5] = [
        ("SimpleRNN", |r| Box::new(SimpleRnnConfig::new(12, 32).with_return_sequences(true).init(r).unwrap())),
        ("LSTM", |r| Box::new(LstmConfig::new(12, 32).with_return_sequences(true).init(r).unwrap())),
        ("GRU", |r| Box::new(GruConfig::new(12, 32).init(r).unwrap())),
        ("GRU (reset_after = false)", |r| Box::new(GruConfig::new(12, 32).with_reset_after(false).init(r).unwrap())),
        ("LSTM go_backwards", |r| Box::new(LstmConfig::new(12, 32).with_go_backwards(true).init(r).unwrap())),
    ];
    for (name, build) in cells {
        // Warm this thread's packing scratch first, so neither measurement pays for it.
        count(build, 40);
        let (first_short, steady_short) = count(build, 4);
        let (first_long, steady_long) = count(build, 40);
        assert_eq!(steady_short, steady_long, "{name}: steady-state allocations at T = 4 vs T = 40");
        assert_eq!(first_short, first_long, "{name}: first-pass allocations at T = 4 vs T = 40");
        // What remains per pass is the returned arrays and states, a handful, not one per step.
        assert!(steady_long < 20, "{name}: {steady_long} allocations per pass");
    }
}
