use super::*;

const TP: Tp = (0, 0);
const LEADER: i32 = 1;

fn record(n: u64) -> Record {
    Record {
        topic: 0,
        key: Bytes::from(n.to_string()),
        value: Bytes::from(vec![b'x'; 100]),
        timestamp_ms: 0,
        header: None,
    }
}

/// A window whose batches hold `per_batch` records of `record`'s size.
fn window(max_in_flight: usize, per_batch: usize) -> Window<u32> {
    Window::new(max_in_flight, BATCH_OVERHEAD + per_batch * record_size(&record(10)))
}

/// `Window::sendable` into a fresh `Ready`.
fn sendable(
    w: &mut Window<u32>,
    now: Instant,
    leader_of: impl Fn(Tp) -> i32,
    blocked: impl Fn(i32) -> bool,
    leaderless: &mut Vec<Tp>,
) -> Ready {
    let mut ready = Ready::default();
    w.sendable(now, leader_of, blocked, leaderless, &mut ready);
    ready
}

fn waiting(w: &Window<u32>) -> Vec<i32> {
    let mut out = vec![99];
    w.leaders_waiting(&mut out);
    out
}

fn push(w: &mut Window<u32>, events: std::ops::Range<u64>, now: Instant) {
    for n in events {
        w.push(TP, record(10 + n % 10), n, now);
    }
}

/// Sends what may go now to `LEADER`, one request per partition batch; the tokens count up
/// from `token`. Returns the base sequences sent, in order.
fn send_all(w: &mut Window<u32>, now: Instant, token: &mut u32) -> Vec<i32> {
    let mut sent = Vec::new();
    loop {
        let mut leaderless = Vec::new();
        let ready = sendable(w, now, |_| LEADER, |_| false, &mut leaderless);
        let Some(tps) = ready.get(LEADER) else { return sent };
        let batch = w.next_batch(tps[0]).expect("a batch to send");
        sent.push(batch.base_sequence);
        *token += 1;
        w.sent(LEADER, *token, tps);
    }
}

/// Reads `LEADER`'s next answer as `outcome` for its one batch.
fn answer(w: &mut Window<u32>, outcome: Outcome, now: Instant, acked: &mut Vec<u64>) -> Next {
    let request = w.answered(LEADER).expect("a request in flight");
    let (tp, sequence) = request.batches[0];
    w.outcome(tp, sequence, outcome, now, acked)
}

#[test]
fn a_retriable_error_on_the_first_of_three_batches_resends_all_three_in_order_with_their_sequences() {
    let t0 = Instant::now();
    let mut w = window(5, 4);
    push(&mut w, 0..12, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 4, 8], "three batches in flight at once");
    assert_eq!(w.unsent(), 0);
    let mut acked = Vec::new();
    // The first fails; the broker then refuses the two behind it as out of order.
    assert_eq!(answer(&mut w, Outcome::Retriable, t0, &mut acked), Next::Retry);
    assert_eq!(answer(&mut w, Outcome::OutOfOrder, t0, &mut acked), Next::Fine);
    assert_eq!(answer(&mut w, Outcome::OutOfOrder, t0, &mut acked), Next::Fine);
    assert!(acked.is_empty());
    assert_eq!(w.unacked(), 12);
    // Nothing goes during the backoff; after it, the same three batches in the same order.
    assert_eq!(send_all(&mut w, t0, &mut token), Vec::<i32>::new());
    let retry = w.next_retry().expect("a backoff");
    assert!(retry >= t0 + Duration::from_millis(80) && retry <= t0 + Duration::from_millis(120));
    assert_eq!(send_all(&mut w, retry, &mut token), [0, 4, 8]);
    for _ in 0..3 {
        assert_eq!(answer(&mut w, Outcome::Written, retry, &mut acked), Next::Fine);
    }
    assert_eq!(acked, (0..12).collect::<Vec<_>>());
    assert!(w.is_empty());
    assert_eq!(w.next_retry(), None);
}

#[test]
fn a_failed_batch_whose_successor_was_written_is_resent_alone_and_later_batches_wait_for_the_rewind() {
    let t0 = Instant::now();
    let mut w = window(5, 2);
    push(&mut w, 0..6, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 2, 4]);
    let mut acked = Vec::new();
    // A timeout on the first (it was written after all), the second written behind it.
    assert_eq!(answer(&mut w, Outcome::Retriable, t0, &mut acked), Next::Retry);
    assert_eq!(answer(&mut w, Outcome::Written, t0, &mut acked), Next::Fine);
    // Still one in flight: nothing is resent, even after the backoff, until it is answered.
    let later = t0 + Duration::from_secs(2);
    assert_eq!(send_all(&mut w, later, &mut token), Vec::<i32>::new());
    assert_eq!(answer(&mut w, Outcome::OutOfOrder, later, &mut acked), Next::Fine);
    // The backoff ran out meanwhile: the rewind goes at once.
    assert_eq!(w.next_retry(), None);
    let retry = later;
    assert_eq!(send_all(&mut w, retry, &mut token), [0, 4], "the written batch is not resent");
    // The broker has sequence 0 already: a duplicate, which counts as written.
    assert_eq!(answer(&mut w, Outcome::Written, retry, &mut acked), Next::Fine);
    assert_eq!(answer(&mut w, Outcome::Written, retry, &mut acked), Next::Fine);
    acked.sort_unstable();
    assert_eq!(acked, (0..6).collect::<Vec<_>>());
    assert!(w.is_empty());
}

#[test]
fn out_of_order_with_no_earlier_failure_is_fatal() {
    let t0 = Instant::now();
    let mut w = window(5, 2);
    push(&mut w, 0..4, t0);
    let mut token = 0;
    send_all(&mut w, t0, &mut token);
    let mut acked = Vec::new();
    assert_eq!(answer(&mut w, Outcome::Written, t0, &mut acked), Next::Fine);
    assert_eq!(answer(&mut w, Outcome::OutOfOrder, t0, &mut acked), Next::Fatal);
    assert_eq!(w.pending(), [2, 3]);
}

#[test]
fn the_window_holds_at_most_max_in_flight_requests_per_broker() {
    let t0 = Instant::now();
    let mut w = window(2, 1);
    push(&mut w, 0..5, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 1]);
    assert_eq!(w.unsent(), 3);
    let mut acked = Vec::new();
    answer(&mut w, Outcome::Written, t0, &mut acked);
    assert_eq!(send_all(&mut w, t0, &mut token), [2]);
    assert_eq!(waiting(&w), [LEADER]);
    assert_eq!(w.next_answer(LEADER), Some(&2), "answers come in the order of the requests");
}

#[test]
fn a_lost_connection_makes_its_batches_unsent_and_they_go_again_with_the_same_sequences() {
    let t0 = Instant::now();
    let mut w = window(5, 4);
    push(&mut w, 0..9, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 4, 8]);
    let mut acked = Vec::new();
    answer(&mut w, Outcome::Written, t0, &mut acked);
    assert_eq!(w.lost(LEADER, t0), 2);
    assert!(waiting(&w).is_empty());
    assert_eq!(w.unsent(), 5);
    // A record made meanwhile starts a new batch: the lost ones may be in the broker's log
    // and must go again exactly as they were, though the last has room.
    push(&mut w, 9..10, t0);
    let retry = w.next_retry().unwrap();
    assert_eq!(send_all(&mut w, retry, &mut token), [4, 8, 9]);
}

#[test]
fn a_partition_waits_for_its_batches_at_the_old_leader_before_sending_to_the_new_one() {
    let t0 = Instant::now();
    let mut w = window(5, 1);
    push(&mut w, 0..2, t0);
    let mut leaderless = Vec::new();
    let ready = sendable(&mut w, t0, |_| 1, |_| false, &mut leaderless);
    w.next_batch(TP).unwrap();
    w.sent(1, 1, ready.get(1).unwrap());
    // The leader moved to node 2 while sequence 0 is in flight at node 1.
    assert!(sendable(&mut w, t0, |_| 2, |_| false, &mut leaderless).is_empty());
    let mut acked = Vec::new();
    let request = w.answered(1).unwrap();
    assert_eq!(w.outcome(request.batches[0].0, request.batches[0].1, Outcome::Written, t0, &mut acked), Next::Fine);
    assert_eq!(sendable(&mut w, t0, |_| 2, |_| false, &mut leaderless).get(2).map(<[Tp]>::len), Some(1));
    // No leader: reported, not sent.
    assert!(sendable(&mut w, t0, |_| -1, |_| false, &mut leaderless).is_empty());
    assert_eq!(leaderless, [TP]);
}

#[test]
fn a_batch_too_large_splits_into_consecutive_sequences_and_later_batches_are_cut_to_the_learned_limit() {
    let t0 = Instant::now();
    let mut w = window(5, 8);
    push(&mut w, 0..16, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 8]);
    let mut acked = Vec::new();
    let next = answer(&mut w, Outcome::TooLarge, t0, &mut acked);
    let Next::Split { records: 8, bytes, limit: Some(limit) } = next else { panic!("{next:?}") };
    assert_eq!(limit, bytes / 4 * 3);
    assert_eq!(answer(&mut w, Outcome::OutOfOrder, t0, &mut acked), Next::Fine);
    // No backoff for a split. The second batch went out before: it is never cut (the broker
    // may hold it, and knows a duplicate only by its first and last sequence).
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 4, 8]);
    for _ in 0..3 {
        assert_eq!(answer(&mut w, Outcome::Written, t0, &mut acked), Next::Fine);
    }
    // Batches made from now on are cut to the limit (three quarters): 5 records, not 8.
    push(&mut w, 16..24, t0);
    assert_eq!(send_all(&mut w, t0, &mut token), [16, 21]);
    assert_eq!(acked, (0..16).collect::<Vec<_>>());
}

#[test]
fn a_single_record_too_large_is_reported_with_its_size() {
    let t0 = Instant::now();
    let mut w = window(5, 1);
    push(&mut w, 0..1, t0);
    let mut token = 0;
    send_all(&mut w, t0, &mut token);
    let next = answer(&mut w, Outcome::TooLarge, t0, &mut Vec::new());
    assert_eq!(next, Next::RecordTooLarge { bytes: BATCH_OVERHEAD + record_size(&record(10)) });
}

#[test]
fn sequences_wrap_to_zero_in_a_new_batch() {
    let t0 = Instant::now();
    let mut w = window(5, 100);
    w.parts.entry(TP).or_default().next_sequence = i32::MAX - 1;
    push(&mut w, 0..4, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [i32::MAX - 1, 0]);
}

#[test]
fn the_oldest_record_dates_the_window_and_a_drained_broker_takes_no_request() {
    let t0 = Instant::now();
    let mut w = window(5, 1);
    assert_eq!(w.oldest(), None);
    w.push(TP, record(1), 0, t0);
    w.push((1, 3), record(2), 1, t0 + Duration::from_secs(1));
    assert_eq!(w.oldest(), Some(t0));
    let mut leaderless = Vec::new();
    assert!(sendable(&mut w, t0, |_| LEADER, |_| true, &mut leaderless).is_empty());
}

#[test]
fn a_batch_that_may_have_reached_the_broker_takes_no_more_records() {
    let t0 = Instant::now();
    let mut w = window(5, 10);
    push(&mut w, 0..2, t0);
    w.attempted(&[TP]);
    push(&mut w, 2..4, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0, 2]);
}

/// Issue 19: linger. A batch waits for the next sales while one is due before its linger
/// ends; it goes when the linger ends, when it is full, when nothing can join it in time, and
/// at once without a hold (the end of the run, a stop, behind schedule).
#[test]
fn a_batch_lingers_at_most_the_linger_and_goes_early_when_full_or_alone() {
    let (t0, ms) = (Instant::now(), Duration::from_millis);
    let linger = ms(5);
    let mut token = 0;
    let mut w = window(5, 4);
    push(&mut w, 0..1, t0);
    // The next sale is due in 0.5 ms: the batch waits for it, until t0 + 5 ms.
    w.hold(Some((linger, t0 + Duration::from_micros(500))));
    assert_eq!(w.linger_ends(), Some(t0 + linger));
    assert!(send_all(&mut w, t0 + ms(4), &mut token).is_empty(), "held within the linger");
    push(&mut w, 1..3, t0 + ms(1));
    assert!(send_all(&mut w, t0 + ms(4), &mut token).is_empty());
    assert_eq!(send_all(&mut w, t0 + linger, &mut token), [0], "the linger ends: the three go together");
    assert_eq!(w.unsent(), 0);
    assert_eq!(w.linger_ends(), None, "nothing held");

    // A full batch (a second one follows it) goes at once; the second, younger and in the same
    // partition, may wait (nothing older than it is left behind).
    let mut w = window(5, 4);
    push(&mut w, 0..6, t0);
    w.hold(Some((linger, t0 + Duration::from_micros(500))));
    assert_eq!(send_all(&mut w, t0, &mut token), [0]);
    assert_eq!(w.unsent(), 2);

    // Partitions linger together: when the older batch goes, the younger one of another
    // partition goes with it, though its own linger has not ended. (Else a later record that
    // joined the older batch would reach Kafka before an earlier one held in the younger
    // batch, and a crash would leave a hole in the ids.)
    let mut w = window(5, 4);
    let other: Tp = (0, 1);
    w.push(TP, record(10), 0, t0);
    w.push(other, record(11), 1, t0 + ms(2));
    w.push(TP, record(12), 2, t0 + ms(4));
    w.hold(Some((linger, t0 + ms(6))));
    let mut leaderless = Vec::new();
    let ready = sendable(&mut w, t0 + ms(4), |_| LEADER, |_| false, &mut leaderless);
    assert_eq!(ready.get(LEADER), Some(&[TP, other][..]), "both partitions in one request");
    let mut w2 = window(5, 4);
    w2.push(TP, record(10), 0, t0);
    w2.push(other, record(11), 1, t0 + ms(2));
    w2.hold(Some((linger, t0 + ms(3))));
    let ready = sendable(&mut w2, t0 + ms(3), |_| LEADER, |_| false, &mut leaderless);
    assert!(ready.is_empty(), "neither goes while a record may still join the oldest batch");

    // The next sale is due after the linger would end (a slow pace): nothing can join, so
    // waiting gains nothing and the batch goes at once.
    let mut w = window(5, 4);
    push(&mut w, 0..1, t0);
    w.hold(Some((linger, t0 + ms(10))));
    assert_eq!(w.linger_ends(), None);
    assert_eq!(send_all(&mut w, t0, &mut token), [0]);

    // No hold, or a linger of 0: everything goes at once.
    for hold in [None, Some((Duration::ZERO, t0 + Duration::from_micros(500)))] {
        let mut w = window(5, 4);
        push(&mut w, 0..1, t0);
        w.hold(hold);
        assert_eq!(send_all(&mut w, t0, &mut token), [0], "{hold:?}");
    }
}

#[test]
fn the_pending_records_come_back_in_each_partitions_order_with_their_batch_start() {
    let mut w = window(5, 2);
    let t0 = Instant::now();
    for n in 0..6u64 {
        // Partitions 1, 0, 1, 0, …: the order made is not any partition's.
        let tp = (0, (1 - n % 2) as i32);
        w.push(tp, record(n), n, t0 + Duration::from_millis(n));
    }
    let mut acked = Vec::new();
    let mut token = 0;
    send_all(&mut w, t0, &mut token);
    // The first request (partition 0's first batch: events 1 and 3) is acknowledged.
    answer(&mut w, Outcome::Written, t0, &mut acked);
    let pending = w.pending_records();
    for p in [0, 1] {
        let events: Vec<u64> = pending.iter().filter(|(tp, ..)| tp.1 == p).map(|(_, _, e, _)| *e).collect();
        assert!(events.windows(2).all(|p| p[0] < p[1]), "partition {p}: {events:?}");
    }
    assert_eq!(pending.len() + acked.len(), 6);
    for (tp, r, e, since) in &pending {
        assert_eq!((tp.1, r), ((1 - *e % 2) as i32, &record(*e)));
        assert!(*since <= t0 + Duration::from_millis(*e), "a batch's start is its first record's");
    }
}

#[test]
fn partitions_that_may_go_are_grouped_by_leader_and_answers_awaited_oldest_first() {
    let t0 = Instant::now();
    let mut w = window(5, 4);
    let tps: [Tp; 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];
    for (n, tp) in tps.iter().enumerate() {
        w.push(*tp, record(10), n as u64, t0);
    }
    // Partitions 0/0 and 1/1 lead at node 2, the others at node 1.
    let leader_of = |tp: Tp| if tp == (0, 0) || tp == (1, 1) { 2 } else { 1 };
    let mut ready = sendable(&mut w, t0, leader_of, |_| false, &mut Vec::new());
    let groups: Vec<(i32, Vec<Tp>)> = ready.by_leader().map(|(l, tps)| (l, tps.to_vec())).collect();
    assert_eq!(groups, [(1, vec![(0, 1), (1, 0)]), (2, vec![(0, 0), (1, 1)])]);
    assert_eq!(ready.tps(), [(0, 1), (1, 0), (0, 0), (1, 1)]);
    // Node 2's request goes first: its answer is awaited first.
    w.sent(2, 1, ready.get(2).unwrap());
    w.sent(1, 2, ready.get(1).unwrap());
    assert_eq!(waiting(&w), [2, 1]);
    w.answered(2).unwrap();
    assert_eq!(waiting(&w), [1]);
    // The same `Ready` again, refilled: nothing is left to send.
    w.sendable(t0, leader_of, |_| false, &mut Vec::new(), &mut ready);
    assert!(ready.is_empty() && ready.tps().is_empty() && ready.by_leader().next().is_none());
}

#[test]
fn a_batch_takes_the_buffers_of_the_last_one_acknowledged() {
    let t0 = Instant::now();
    let mut w = window(5, 10);
    push(&mut w, 0..10, t0);
    let mut token = 0;
    assert_eq!(send_all(&mut w, t0, &mut token), [0]);
    let mut acked = Vec::new();
    assert_eq!(answer(&mut w, Outcome::Written, t0, &mut acked), Next::Fine);
    assert_eq!(acked, (0..10).collect::<Vec<u64>>());
    // Paced, the next sale's batch starts when the last one is acknowledged: it reuses that
    // one's memory (a fresh one would start with room for 4) and holds only its own record.
    push(&mut w, 10..11, t0);
    let batch = w.next_batch(TP).expect("a batch");
    assert!(batch.records.capacity() >= 10 && batch.events.capacity() >= 10);
    assert_eq!((batch.records.len(), batch.events.as_slice()), (1, &[10][..]));
    assert_eq!(batch.base_sequence, 10);
}
