//! Hand-drawn rows: `.` a free seat, `x` a taken one, a space a number left out (an aisle).
//! Rows are numbered `1`, `2`... front to back in the order drawn; seats from 1, left to right.

use super::*;

fn drawn(section: Option<&str>, rows: &[&str], first_position: i32) -> Vec<HallSeat> {
    let mut seats = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (k, c) in row.chars().enumerate() {
            if c == ' ' {
                continue;
            }
            let number = k as i32 + 1;
            let row_name = (r + 1).to_string();
            seats.push(HallSeat {
                id: Uuid::new_v4(),
                label: format!("{}{row_name}-{number}", section.map(|s| format!("{s}-")).unwrap_or_default()),
                section: section.map(String::from),
                row: Some(row_name),
                number: Some(number),
                rank: None,
                position: first_position + seats.len() as i32,
                taken: c == 'x',
            });
        }
    }
    seats
}

fn hall(rows: &[&str]) -> Hall {
    Hall::new(drawn(None, rows, 0))
}

fn ask(quantity: usize) -> BestAvailable {
    BestAvailable { quantity, section: None, together: true }
}

/// The picked seats as `row-number` labels.
fn labels(hall: &Hall, picked: &[usize]) -> Vec<String> {
    picked.iter().map(|&i| hall.seat(i).label.clone()).collect()
}

/// Takes the best seats for `ask` and names them.
fn take(hall: &mut Hall, ask: &BestAvailable) -> Vec<String> {
    let picked = hall.take_best(ask).unwrap();
    labels(hall, &picked)
}

fn best(rows: &[&str], quantity: usize) -> Result<Vec<String>, RejectionReason> {
    let mut h = hall(rows);
    h.take_best(&ask(quantity)).map(|picked| labels(&h, &picked))
}

#[test]
fn a_block_is_adjacent_seats_of_one_row_nearest_the_middle() {
    assert_eq!(best(&[".........."], 2).unwrap(), ["1-5", "1-6"]);
    assert_eq!(best(&[".........."], 3).unwrap(), ["1-4", "1-5", "1-6"]);
}

#[test]
fn front_rows_come_first() {
    assert_eq!(best(&["xxxx....xx", ".........."], 2).unwrap(), ["1-5", "1-6"]);
    assert_eq!(best(&["xxxx.x.xxx", ".........."], 2).unwrap(), ["2-5", "2-6"]);
}

#[test]
fn an_aisle_breaks_adjacency() {
    assert_eq!(best(&["... ..."], 4), Err(RejectionReason::SeatsNotTogether));
    assert_eq!(best(&["... ...", "...."], 4).unwrap(), ["2-1", "2-2", "2-3", "2-4"]);
}

#[test]
fn a_block_that_would_leave_a_lonely_seat_is_passed_over() {
    // 5-6 is nearest the middle, but leaves 7 alone before the taken 8; 1-2 leaves 3 alone against 4
    assert_eq!(best(&["...x...x.."], 2).unwrap(), ["1-9", "1-10"]);
    // at a row's ends as well: 2-6 is nearest the middle, and would leave 1 and 7 alone
    assert_eq!(best(&["......."], 5).unwrap(), ["1-1", "1-2", "1-3", "1-4", "1-5"]);
    // the middle of an empty row of 5, for 3 seats, would leave one at each end
    assert_eq!(best(&["....."], 3).unwrap(), ["1-1", "1-2", "1-3"]);
}

#[test]
fn when_every_block_leaves_a_lonely_seat_the_best_is_taken_anyway() {
    assert_eq!(best(&["x...x"], 2).unwrap(), ["1-2", "1-3"]);
    // another row without the problem wins even if further back
    assert_eq!(best(&["x...x", "...."], 2).unwrap(), ["2-1", "2-2"]);
    assert_eq!(best(&[".x.x."], 1).unwrap(), ["1-3"]);
}

#[test]
fn a_single_seat_avoids_splitting_a_pair() {
    // the middle pair 4-5 would each leave one alone; 1 leaves nothing alone
    assert_eq!(best(&["..x..x.x"], 1).unwrap(), ["1-7"]);
}

#[test]
fn too_few_free_seats_is_sold_out_and_no_block_is_not_together() {
    assert_eq!(best(&["x.x.x"], 3), Err(RejectionReason::SoldOut));
    assert_eq!(best(&["x.x.x.x"], 3), Err(RejectionReason::SeatsNotTogether));
}

#[test]
fn not_together_takes_the_closest_seats_of_one_row() {
    let mut h = hall(&["... ...", ".x.x.x."]);
    let picked = h.take_best(&BestAvailable { quantity: 4, section: None, together: false }).unwrap();
    assert_eq!(labels(&h, &picked), ["1-2", "1-3", "1-5", "1-6"]);
    // no row has three free seats: the best free seats, row after row
    let mut h = hall(&["x.x.x", "x.x.x"]);
    let picked = h.take_best(&BestAvailable { quantity: 3, section: None, together: false }).unwrap();
    assert_eq!(picked.len(), 3);
    assert_eq!(labels(&h, &picked[..2]), ["1-2", "1-4"]);
}

#[test]
fn a_section_asked_for_is_the_only_one_searched_and_sections_rank_in_the_order_added() {
    let mut seats = drawn(Some("STALLS"), &["......"], 0);
    seats.extend(drawn(Some("BALCONY"), &["......"], 100));
    let mut h = Hall::new(seats);
    assert_eq!(take(&mut h, &ask(2)), ["STALLS-1-3", "STALLS-1-4"]);
    let balcony = BestAvailable { quantity: 2, section: Some("BALCONY".into()), together: true };
    assert_eq!(take(&mut h, &balcony), ["BALCONY-1-3", "BALCONY-1-4"]);
    let picked = h.take_best(&BestAvailable { quantity: 5, section: Some("BALCONY".into()), together: true });
    assert_eq!(picked, Err(RejectionReason::SoldOut), "four are left in the balcony");
}

#[test]
fn a_rank_set_by_the_organizer_comes_before_the_default_order() {
    let mut seats = drawn(None, &["......", "......"], 0);
    for s in seats.iter_mut().filter(|s| s.row.as_deref() == Some("2")) {
        s.rank = Some(s.number.unwrap());
    }
    let mut h = Hall::new(seats);
    let picked = h.take_best(&ask(2)).unwrap();
    assert_eq!(labels(&h, &picked), ["2-1", "2-2"]);
}

#[test]
fn each_request_in_turn_gets_the_best_block_left() {
    let mut h = hall(&["........", "........"]);
    let turns: Vec<Vec<String>> = (0..5).map(|_| take(&mut h, &ask(2))).collect();
    assert_eq!(turns[0], ["1-4", "1-5"]);
    // any pair left in row 1 would leave a seat alone: row 2 has a pair that does not
    assert_eq!(turns[1], ["2-4", "2-5"]);
    // now every pair leaves one alone: the best pair anyway
    assert_eq!(turns[2], ["1-2", "1-3"]);
    assert_eq!(turns[3], ["1-6", "1-7"]);
    assert_eq!(turns[4], ["2-2", "2-3"]);
    assert_eq!(h.lonely_seats(), 3, "1-1, 1-8 and 2-1");
}

#[test]
fn named_seats_are_all_or_nothing() {
    let mut h = hall(&["..x."]);
    assert!(h.take_named(&["1-1".into(), "1-3".into()]).is_none());
    assert!(h.take_named(&["1-1".into(), "NOPE".into()]).is_none());
    assert_eq!(h.take_named(&["1-1".into(), "1-2".into()]).map(|p| p.len()), Some(2));
    assert!(h.take_named(&["1-2".into()]).is_none());
}

#[test]
fn lonely_seats_are_free_seats_without_a_free_neighbour() {
    assert_eq!(hall(&[".x..x.", ". ."]).lonely_seats(), 4);
    assert_eq!(hall(&["......"]).lonely_seats(), 0);
}

/// The best block by a pass over every run, as the index must find it.
fn by_a_pass(h: &Hall, quantity: usize, section: Option<&str>) -> Option<Candidate> {
    (0..h.runs.len())
        .filter(|&r| section.is_none() || h.runs[r].section.as_deref() == section)
        .filter_map(|r| h.best_in_run(r, quantity))
        .min()
}

#[test]
fn the_index_of_best_blocks_follows_takes_gives_back_and_other_workers_changes() {
    // three sections of uneven rows with aisles, a few ranked seats; a fixed pseudo-random walk
    let mut seats = drawn(Some("A"), &["...... ......", ".........", "..... ..."], 0);
    seats.extend(drawn(Some("B"), &["............", ". . . .. ..."], 100));
    seats.extend(drawn(Some("C"), &["........"], 200));
    seats[30].rank = Some(1);
    seats[31].rank = Some(2);
    let ids: Vec<Uuid> = seats.iter().map(|s| s.id).collect();
    let mut h = Hall::new(seats);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for turn in 0..2_000 {
        let quantity = 1 + next(4) as usize;
        let section = [None, Some("A"), Some("B"), Some("C")][next(4) as usize];
        let expected = by_a_pass(&h, quantity, section);
        assert_eq!(h.best_block(quantity, section), expected, "turn {turn}");
        match next(4) {
            0 | 1 => {
                let ask = BestAvailable { quantity, section: section.map(String::from), together: true };
                let _ = h.take_best(&ask);
            }
            2 => {
                let seat = next(ids.len() as u64) as usize;
                h.give_back(&[seat]);
            }
            _ => {
                let changes: Vec<(Uuid, bool)> =
                    (0..3).map(|_| (ids[next(ids.len() as u64) as usize], next(2) == 0)).collect();
                h.set_taken(&changes);
            }
        }
        let free = h.seats.iter().filter(|s| !s.taken).count();
        assert_eq!(h.free_in_all, free, "turn {turn}");
    }
}
