//! The simulator: a seeded generator of transactions and refunds that keeps the data contract;
//! when they happen (`clock`, `profile`), and the faults a consumer must survive (`faults`).
//!
//! References: `shared/design/data-contract.md` (fields, catalog, refund rules).

pub mod catalog;
pub mod clock;
pub mod event;
pub mod faults;
pub mod json;
pub mod profile;
pub mod resume;

use std::collections::VecDeque;
use std::time::Duration;

use catalog::{CUSTOMERS, PRODUCTS, REFUND_REASONS, STORES};
use clock::Clock;
use event::{Cents, CustomerId, EventTime, Refund, Transaction};
use profile::Arrivals;

/// How many of the most recent not-yet-refunded sales a refund may pick from.
pub const REFUND_WINDOW: usize = 100;

/// Where a run's ids start, how they step, and the earlier sales it may refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub transaction_id: u64,
    pub refund_id: u64,
    /// The distance between two ids of this instance (n of instance k/n).
    pub step: u64,
    /// Earlier sales not refunded yet, oldest first (only the last `REFUND_WINDOW` are kept).
    pub refundable: Vec<Transaction>,
}

impl Start {
    /// Ids 1, 2, 3, … and nothing to refund: a first run, or `PRODUCER_ID_START=1`.
    #[cfg(test)]
    pub fn fresh() -> Start {
        Start { transaction_id: 1, refund_id: 1, step: 1, refundable: Vec::new() }
    }
}

/// Produces the event stream. Everything random comes from one seeded generator, so a seed and
/// a simulated clock make a run reproducible byte for byte (for a given `Start`).
pub struct Generator {
    rng: fastrand::Rng,
    clock: Clock,
    refund_probability: f64,
    next_transaction_id: u64,
    next_refund_id: u64,
    step: u64,
    /// Transactions generated in this run: the simulated clock's step count.
    sequence: u64,
    /// The newest sales that have not been refunded, oldest first, at most `REFUND_WINDOW`.
    refundable: VecDeque<Transaction>,
    /// The stores this generator sells for (the catalog's order; all by default).
    stores: Vec<&'static str>,
    /// When sales happen under a rate profile; `None`: one every clock step (flat).
    arrivals: Option<Arrivals>,
    /// On the wall clock: how much earlier than now the next sale happened (it was due then
    /// and is made late; see `late_by`), in milliseconds.
    late_ms: i64,
}

impl Generator {
    #[cfg(test)]
    pub fn new(seed: u64, clock: Clock, refund_probability: f64) -> Generator {
        Generator::starting(seed, clock, refund_probability, Start::fresh())
    }

    /// A generator whose ids and refundable sales continue from `start`.
    pub fn starting(seed: u64, clock: Clock, refund_probability: f64, start: Start) -> Generator {
        let mut refundable = VecDeque::with_capacity(REFUND_WINDOW + 1);
        let skip = start.refundable.len().saturating_sub(REFUND_WINDOW);
        refundable.extend(start.refundable.into_iter().skip(skip));
        Generator {
            rng: fastrand::Rng::with_seed(seed),
            clock,
            refund_probability,
            next_transaction_id: start.transaction_id,
            next_refund_id: start.refund_id,
            step: start.step.max(1),
            sequence: 0,
            refundable,
            stores: STORES.iter().map(|s| s.id).collect(),
            arrivals: None,
            late_ms: 0,
        }
    }

    /// Sales happen at `arrivals`' times (a rate profile) instead of one per clock step.
    pub fn arriving(mut self, arrivals: Option<Arrivals>) -> Generator {
        self.arrivals = arrivals;
        self
    }

    /// When the next sale happens under a rate profile, as event time after the run's start
    /// (ns): where the schedule puts it. `None`: flat, one per step.
    pub fn upcoming_ns(&self) -> Option<i128> {
        self.arrivals.as_ref().map(Arrivals::next_ns)
    }

    /// Sells only for `stores` (catalog ids, none unknown, at least one). With every store, in
    /// the catalog's order, the stream is the same as without.
    pub fn selling_for(mut self, stores: &[&'static str]) -> Generator {
        debug_assert!(!stores.is_empty() && stores.iter().all(|s| STORES.iter().any(|c| c.id == *s)));
        if !stores.is_empty() {
            self.stores = stores.to_vec();
        }
        self
    }

    /// The next sale, and with probability `refund_probability` a refund that follows it.
    /// On the wall clock, the next sale (and its refund) happened `late` before now: it was due
    /// then and is made now. The simulated clock has its own times.
    pub fn late_by(&mut self, late: Duration) -> &mut Generator {
        self.late_ms = i64::try_from(late.as_millis()).unwrap_or(i64::MAX);
        self
    }

    pub fn next(&mut self) -> (Transaction, Option<Refund>) {
        let transaction = self.transaction();
        let refund = (self.rng.f64() < self.refund_probability).then(|| self.refund(&transaction));
        (transaction, refund)
    }

    fn transaction(&mut self) -> Transaction {
        let transaction_id = self.next_transaction_id;
        self.next_transaction_id = transaction_id.saturating_add(self.step);
        self.sequence += 1;
        let timestamp = match &mut self.arrivals {
            None => self.clock.transaction_time(self.sequence),
            Some(arrivals) => {
                let at = self.clock.at_offset(arrivals.next_ns());
                arrivals.advance();
                at
            }
        };
        let timestamp = self.earlier(timestamp, EventTime(i64::MIN));
        let product = PRODUCTS[self.rng.usize(..PRODUCTS.len())];
        let t = Transaction {
            transaction_id,
            product_id: product.id,
            store_id: self.stores[self.rng.usize(..self.stores.len())],
            customer_id: CustomerId(self.rng.u32(1..=CUSTOMERS)),
            amount: Cents(self.rng.u64(product.min_cents..=product.max_cents)),
            timestamp,
        };
        if self.refundable.len() == REFUND_WINDOW {
            self.refundable.pop_front();
        }
        self.refundable.push_back(t.clone());
        t
    }

    /// Refunds one of the recent unrefunded sales (never empty: `latest` was just added).
    fn refund(&mut self, latest: &Transaction) -> Refund {
        let pick = self.rng.usize(..self.refundable.len());
        let sale = self.refundable.remove(pick).expect("index drawn below len");
        let refund_id = self.next_refund_id;
        self.next_refund_id = refund_id.saturating_add(self.step);
        let paid = sale.amount.0;
        Refund {
            refund_id,
            original_transaction_id: sale.transaction_id,
            product_id: sale.product_id,
            store_id: sale.store_id,
            customer_id: sale.customer_id,
            // 50 %–100 % of what was paid, in whole cents, rounded so it never exceeds it.
            refund_amount: Cents(self.rng.u64(paid.div_ceil(2)..=paid)),
            reason: REFUND_REASONS[self.rng.usize(..REFUND_REASONS.len())],
            timestamp: self.earlier(self.clock.time_after(latest.timestamp), latest.timestamp),
        }
    }

    /// A wall clock time `late_ms` earlier, never before `floor`; a simulated time as it is.
    fn earlier(&self, time: EventTime, floor: EventTime) -> EventTime {
        match self.clock {
            Clock::Wall => EventTime(time.0.saturating_sub(self.late_ms).max(floor.0)),
            Clock::Simulated { .. } => time,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use event::EventTime;

    const N: u64 = 100_000;

    fn run(seed: u64, p: f64, n: u64) -> Vec<(Transaction, Option<Refund>)> {
        let mut g = Generator::new(seed, Clock::simulated(1_735_689_600_000, 1.0), p);
        (0..n).map(|_| g.next()).collect()
    }

    #[test]
    fn a_sale_made_late_on_the_wall_clock_is_stamped_when_it_was_due() {
        let mut g = Generator::new(3, Clock::Wall, 1.0);
        let before = clock::now().0;
        let (t, r) = g.late_by(Duration::from_secs(3)).next();
        let after = clock::now().0;
        assert!((before - 3000..=after - 3000).contains(&t.timestamp.0), "{t:?}");
        let r = r.expect("refund probability 1");
        assert!(r.timestamp >= t.timestamp && r.timestamp.0 <= after - 3000, "{r:?}");
        let (t2, _) = g.late_by(Duration::ZERO).next();
        assert!(t2.timestamp.0 >= before, "on time again: {t2:?}");
        // A simulated clock keeps its own times.
        let mut s = Generator::new(3, Clock::simulated(1_735_689_600_000, 1.0), 0.0);
        assert_eq!(s.late_by(Duration::from_secs(3)).next().0.timestamp, EventTime(1_735_689_600_000));
    }

    #[test]
    fn every_contract_rule_holds_over_many_events() {
        let events = run(7, 0.1, N);
        let mut sales: HashMap<u64, Transaction> = HashMap::new();
        let mut refunded = HashSet::new();
        let mut refunds = 0u64;
        let mut products = HashMap::new();
        let mut stores = HashMap::new();
        let mut customers = HashSet::new();
        for (i, (t, r)) in events.iter().enumerate() {
            assert_eq!(t.transaction_id, i as u64 + 1, "ids are 1, 2, 3, …");
            let p = PRODUCTS.iter().find(|p| p.id == t.product_id).expect("catalog product");
            assert!((p.min_cents..=p.max_cents).contains(&t.amount.0), "{t:?}");
            assert!(STORES.iter().any(|s| s.id == t.store_id));
            assert!((1..=CUSTOMERS).contains(&t.customer_id.0));
            *products.entry(t.product_id).or_insert(0u64) += 1;
            *stores.entry(t.store_id).or_insert(0u64) += 1;
            customers.insert(t.customer_id.0);
            sales.insert(t.transaction_id, t.clone());
            if let Some(r) = r {
                refunds += 1;
                assert_eq!(r.refund_id, refunds, "refund ids are 1, 2, 3, …");
                let sale = &sales[&r.original_transaction_id];
                assert!(refunded.insert(sale.transaction_id), "refunded twice: {r:?}");
                assert!(t.transaction_id - sale.transaction_id < 100 + refunds, "refund reaches too far back: {r:?}");
                assert_eq!(
                    (r.product_id, r.store_id, r.customer_id),
                    (sale.product_id, sale.store_id, sale.customer_id)
                );
                assert!(r.refund_amount <= sale.amount, "{r:?} > {sale:?}");
                assert!(r.refund_amount.0 * 2 >= sale.amount.0, "{r:?} < 50 % of {sale:?}");
                assert!(REFUND_REASONS.contains(&r.reason));
                assert!(r.timestamp >= sale.timestamp && r.timestamp == t.timestamp);
            }
        }
        // Refund ratio within 4 σ of the probability.
        let sigma = (N as f64 * 0.1 * 0.9).sqrt();
        assert!((refunds as f64 - N as f64 * 0.1).abs() < 4.0 * sigma, "refunds {refunds}");
        // Uniform choices: every value appears, each near its expected share (±10 %).
        assert_eq!(products.len(), PRODUCTS.len());
        for (id, n) in products {
            let expect = N as f64 / PRODUCTS.len() as f64;
            assert!((n as f64 - expect).abs() < expect * 0.1, "{id}: {n}");
        }
        for (id, n) in stores {
            let expect = N as f64 / 3.0;
            assert!((n as f64 - expect).abs() < expect * 0.1, "{id}: {n}");
        }
        assert_eq!(customers.len(), CUSTOMERS as usize);
    }

    #[test]
    fn refunds_only_pick_among_the_last_hundred_unrefunded_sales() {
        // With p = 1 every sale is followed by a refund; the window must still never offer a
        // refunded sale, and a sale older than 100 unrefunded ones must never be picked.
        let mut g = Generator::new(3, Clock::Wall, 1.0);
        let mut refunded = HashSet::new();
        for _ in 0..20_000 {
            let (_, r) = g.next();
            let r = r.expect("p = 1");
            assert!(refunded.insert(r.original_transaction_id));
            assert!(g.refundable.len() <= REFUND_WINDOW);
            assert!(g.refundable.iter().all(|t| !refunded.contains(&t.transaction_id)));
        }
    }

    #[test]
    fn refund_amounts_cover_fifty_to_a_hundred_percent() {
        let (mut low, mut high) = (1.0f64, 0.0f64);
        let events = run(5, 1.0, 20_000);
        let sales: HashMap<_, _> = events.iter().map(|(t, _)| (t.transaction_id, t.amount.0)).collect();
        for (_, r) in &events {
            let r = r.as_ref().unwrap();
            let ratio = r.refund_amount.0 as f64 / sales[&r.original_transaction_id] as f64;
            low = low.min(ratio);
            high = high.max(ratio);
        }
        assert!((0.5..0.51).contains(&low), "lowest ratio {low}");
        assert!(high <= 1.0 && high > 0.99, "highest ratio {high}");
    }

    #[test]
    fn probability_zero_and_one_are_exact() {
        assert!(run(1, 0.0, 10_000).iter().all(|(_, r)| r.is_none()));
        assert!(run(1, 1.0, 10_000).iter().all(|(_, r)| r.is_some()));
    }

    #[test]
    fn same_seed_same_stream_and_other_seed_other_stream() {
        let a = run(42, 0.1, 5_000);
        assert_eq!(a, run(42, 0.1, 5_000));
        assert_ne!(a, run(43, 0.1, 5_000));
    }

    #[test]
    fn a_start_sets_ids_their_step_and_the_refundable_sales() {
        let before = run(9, 0.0, 150);
        let earlier: Vec<Transaction> = before.into_iter().map(|(t, _)| t).collect();
        let start = Start { transaction_id: 452, refund_id: 32, step: 3, refundable: earlier.clone() };
        let mut g = Generator::starting(1, Clock::simulated(1_735_689_600_000, 1.0), 1.0, start);
        // Only the last 100 earlier sales are kept, and each may be refunded once.
        assert_eq!(g.refundable.len(), REFUND_WINDOW);
        assert_eq!(g.refundable.front().map(|t| t.transaction_id), Some(51));
        let mut refunded = HashSet::new();
        for i in 0..300u64 {
            let (t, r) = g.next();
            assert_eq!(t.transaction_id, 452 + 3 * i);
            let r = r.expect("p = 1");
            assert_eq!(r.refund_id, 32 + 3 * i);
            assert!(refunded.insert(r.original_transaction_id), "refunded twice: {r:?}");
            assert!(r.original_transaction_id >= 51, "{r:?} reaches past the kept sales");
        }
        assert!(refunded.iter().any(|id| *id <= 150), "a refund names a sale of the earlier run");
        // The simulated clock counts this run's transactions, not ids.
        let mut g =
            Generator::starting(1, Clock::simulated(0, 1.0), 0.0, Start { transaction_id: 5001, ..Start::fresh() });
        assert_eq!(g.next().0.timestamp, EventTime(0));
    }

    #[test]
    fn simulated_timestamps_step_per_transaction() {
        let events = run(1, 0.5, 3);
        let ts: Vec<_> = events.iter().map(|(t, _)| t.timestamp).collect();
        assert_eq!(ts, [EventTime(1_735_689_600_000), EventTime(1_735_689_601_000), EventTime(1_735_689_602_000)]);
    }

    #[test]
    fn a_subset_of_stores_gets_all_the_sales_evenly_and_all_stores_change_nothing() {
        let clock = || Clock::simulated(1_735_689_600_000, 1.0);
        let mut one = Generator::new(8, clock(), 0.3).selling_for(&["STORE-002"]);
        let mut two = Generator::new(8, clock(), 0.3).selling_for(&["STORE-001", "STORE-003"]);
        let mut counts = HashMap::new();
        for _ in 0..30_000 {
            let (t, r) = one.next();
            assert_eq!(t.store_id, "STORE-002");
            assert!(r.is_none_or(|r| r.store_id == "STORE-002"));
            *counts.entry(two.next().0.store_id).or_insert(0u64) += 1;
        }
        assert_eq!(counts.len(), 2);
        // Each of two stores gets half: within 4σ (σ = √(n/4) ≈ 87).
        assert!(counts.values().all(|n| n.abs_diff(15_000) < 350), "{counts:?}");
        let all: Vec<&str> = STORES.iter().map(|s| s.id).collect();
        let (mut a, mut b) = (Generator::new(8, clock(), 0.3), Generator::new(8, clock(), 0.3).selling_for(&all));
        for _ in 0..1_000 {
            assert_eq!(a.next(), b.next());
        }
    }
}
