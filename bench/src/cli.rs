//! The command line: the scenarios, sharing the options that say which system to drive and how.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench", about = "Load generator for boxoffice: starts the system, drives it over HTTP, checks it")]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

impl Cli {
    pub fn common(&self) -> &Common {
        match &self.scenario {
            Scenario::Onsale(args) => &args.common,
            Scenario::Expiry(args) => &args.common,
            Scenario::Waitlist(args) => &args.common,
            Scenario::OnsaleFull(args) => &args.common,
            Scenario::Seated(args) => &args.common,
            Scenario::Queue(args) => &args.common,
            Scenario::Baskets(args) => &args.common,
            Scenario::Stream(args) => &args.common,
        }
    }
}

#[derive(Subcommand)]
pub enum Scenario {
    /// Buyers rush one representation and offer: throughput, latency, oversell, FIFO, pgbench ratio.
    Onsale(OnsaleArgs),
    /// One-minute holds left to expire: how late the stock comes back.
    Expiry(ExpiryArgs),
    /// A sold-out item with a waiting list; holds and then one-minute offers lapse: how late the
    /// next person gets their offer.
    Waitlist(WaitlistArgs),
    /// The whole on-sale on one item: reserve, the refused join the list, holders pay or let
    /// one-minute holds lapse, offers cascade, tickets are issued; each step's rate and latency,
    /// position lookups on lines of 100 and 100,000, and the invariants afterwards.
    OnsaleFull(OnsaleFullArgs),
    /// Best available in a hall of 5,000 seats (or a stadium of 60,000 with `--stadium`): buyers
    /// ask for 1 to 4 adjacent seats; decided/s, FIFO replayed, lonely seats against a
    /// first-free-block baseline, the sizes of availability and seat maps, pgbench ratio.
    Seated(SeatedArgs),
    /// A virtual queue in front of the on-sale: people join (most before the opening), the draw,
    /// admission at a set rate, admitted people reserve with their passes; join/s, the draw
    /// recomputed, the rate, the stop at sell-out, pgbench ratio.
    Queue(QueueArgs),
    /// Orders of several ticket types: stalls shared by Adult, Child and Concession, and a
    /// parking pool; buyers send 1-3 lines each; decided/s, partial orders, oversell per pool,
    /// every decision replayed in arrival order, tickets per line after confirms, pgbench ratio.
    Baskets(BasketsArgs),
    /// Live streams under the on-sale: 10,000 availability and 1,000 seat map subscribers on the
    /// API process while buyers rush the item; delivery delay, events per subscriber, every
    /// subscriber's last state against SQL, decided/s with subscribers over without.
    Stream(StreamArgs),
}

/// Which system to drive, how hard, and what to print.
#[derive(Args, Clone)]
pub struct Common {
    /// PostgreSQL to use. Without `--target`: an admin connection to the server on which the bench
    /// creates (and drops) its own database. With `--target`: the database of that system.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub database_url: String,
    /// Drive an already running API (e.g. http://127.0.0.1:8000) instead of starting one.
    #[arg(long)]
    pub target: Option<String>,
    /// Where `boxoffice`, `reservation-worker` and `scheduler` are (default: next to this executable).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Reservation worker processes to start.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Scheduler processes to start.
    #[arg(long, default_value_t = 1)]
    pub schedulers: u32,
    /// Fulfillment worker processes to start (they issue the tickets of confirmed reservations).
    #[arg(long, default_value_t = 1)]
    pub fulfillment_workers: u32,
    /// Concurrent keep-alive connections sending the requests.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub connections: u32,
    /// Tickets asked for by each reservation (1 to the offer's limit of 10).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=10))]
    pub quantity: i32,
    /// Seconds to wait for every reservation to be decided after the last request.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Keep the bench database at the end, to look at it.
    #[arg(long)]
    pub keep: bool,
    /// Print one JSON object instead of `name: value` lines.
    #[arg(long)]
    pub json: bool,
    /// Run on a private PostgreSQL started for the run (pg_stat_statements preloaded) and print
    /// the top statements by total time and the WAL bytes per decided reservation. Needs the
    /// server binaries under /usr/lib/postgresql/*/bin and `pg_stat_statements`
    /// (postgresql-contrib); `--database-url` then only lends its settings to the private server.
    #[arg(long, conflicts_with = "target")]
    pub profile: bool,
    /// Run on the loopback Patroni cluster of `deploy/ha` (three nodes, strict synchronous
    /// replication, HAProxy on ports 25000-25031), brought up for the run and taken down after it:
    /// the scenario and pgbench go through HAProxy's primary port. Needs Debian's patroni,
    /// etcd-server and haproxy (`deploy/ha/up` installs them as root).
    #[arg(long, conflicts_with_all = ["target", "profile"])]
    pub ha: bool,
    /// More environment for the API process, set by a scenario (not an option).
    #[arg(skip)]
    pub api_env: Vec<(&'static str, &'static str)>,
}

#[derive(Args)]
pub struct OnsaleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Reservation requests, one buyer each.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: u32,
    /// Stock of the item on sale.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub tickets: i32,
    /// The buyer who waits for the answer: each request asks `?wait=SECONDS` and its connection
    /// sends the next buyer's only once the decision (or the end of the wait) is in. Prints answer
    /// latency and the goals (decision p99 < 100 ms, answer p99 < 150 ms) without failing on them.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=30))]
    pub wait: Option<u32>,
    /// How long pgbench runs (once before the load, once after).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub pgbench_seconds: u32,
    /// Do not run pgbench (no ratio is printed).
    #[arg(long)]
    pub skip_pgbench: bool,
}

#[derive(Args)]
pub struct OnsaleFullArgs {
    #[command(flatten)]
    pub common: Common,
    /// Reservation requests, one buyer each; those refused join the waiting list.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: u32,
    /// Stock of the item on sale.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub tickets: i32,
    /// Percent of the holders who pay; the others let their one-minute holds lapse.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub confirm_percent: u8,
    /// Position lookups per measured list.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub lookups: u32,
    /// How long pgbench runs (once before the load, once after).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub pgbench_seconds: u32,
    /// Do not run pgbench (no ratio is printed).
    #[arg(long)]
    pub skip_pgbench: bool,
}

#[derive(Args)]
pub struct SeatedArgs {
    #[command(flatten)]
    pub common: Common,
    /// A stadium instead of the hall: 60 sections of 25 rows of 40 seats (60,000 seats), and
    /// 100,000 buyers unless `--buyers` says otherwise. Prints the sizes of the public reads.
    #[arg(long)]
    pub stadium: bool,
    /// Best-available requests, one buyer each (default: 20,000 in the hall, 100,000 in the
    /// stadium).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: Option<u32>,
    /// Write the sold-out hall's seat map (SVG) here.
    #[arg(long)]
    pub seatmap_svg: Option<PathBuf>,
    /// How long pgbench runs (once before the load, once after).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub pgbench_seconds: u32,
    /// Do not run pgbench (no ratio is printed).
    #[arg(long)]
    pub skip_pgbench: bool,
}

#[derive(Args)]
pub struct BasketsArgs {
    #[command(flatten)]
    pub common: Common,
    /// Orders, one buyer each.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: u32,
    /// Places in the stalls, shared by Adult, Child and Concession.
    #[arg(long, default_value_t = 8_000, value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    pub stalls: i32,
    /// Parking spaces.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    pub parking: i32,
    /// How long pgbench runs (once before the load, once after).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub pgbench_seconds: u32,
    /// Do not run pgbench (no ratio is printed).
    #[arg(long)]
    pub skip_pgbench: bool,
}

#[derive(Args)]
pub struct QueueArgs {
    #[command(flatten)]
    pub common: Common,
    /// People joining the queue, one user each.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub people: u32,
    /// The share of them joining before the sale opens (the pre-queue), in percent.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub prequeue_percent: u32,
    /// Tickets on sale: admission must stop when they are gone.
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub tickets: i32,
    /// The queue's admission rate.
    #[arg(long, default_value_t = 6_000, value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    pub admit_per_minute: i32,
    /// How long pgbench runs (once before the load, once after).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub pgbench_seconds: u32,
    /// Do not run pgbench (no ratio is printed).
    #[arg(long)]
    pub skip_pgbench: bool,
}

#[derive(Args)]
pub struct ExpiryArgs {
    #[command(flatten)]
    pub common: Common,
    /// One-minute holds to let expire.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub holds: u32,
    /// Seconds to wait, once every hold is due, for all of them to be expired.
    #[arg(long, default_value_t = 180)]
    pub expiry_timeout: u64,
}

#[derive(Args)]
pub struct WaitlistArgs {
    #[command(flatten)]
    pub common: Common,
    /// Stock of the item, all held by buyers who never pay (one-minute holds).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub holds: u32,
    /// People on the waiting list (two waves of offers need twice the stock).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub waiting: u32,
    /// Seconds to wait, once the offers are due, for the waves to go through.
    #[arg(long, default_value_t = 240)]
    pub offers_timeout: u64,
}

#[derive(Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub common: Common,
    /// Reservation requests, one buyer each, in each of the two on-sales (without and with
    /// subscribers).
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buyers: u32,
    /// Stock of each on-sale's item.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1..))]
    pub tickets: i32,
    /// Subscribers to the item's availability stream.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(0..=19_000))]
    pub availability: u32,
    /// Subscribers to the hall's seat map stream.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(0..=19_000))]
    pub seatmap: u32,
}
