//! The flight workload on the command line: `dagbench generate sequences`
//! and the aircraft shape of `dagbench graph generate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use dagbench_core::ids::RunId;
use dagbench_flight::sequence::{Sequence, SequenceJson};
use dagbench_flight::{Airports, GeneratorOptions, generate_aircraft_daily_sequences};
use dagbench_run::workload::{AircraftWorkload, Built, Workload};
use dagbench_store::RunStore;

use crate::output::thousands;

#[derive(Debug, Subcommand)]
pub(crate) enum GenerateCommand {
    /// Aircraft daily flight sequences (sequence_<id>.json, one per aircraft),
    /// or `--check DIR` to validate existing files against the rules.
    Sequences(SequencesArgs),
}

/// Where sequences come from: the airports and the generator's options.
#[derive(Debug, Clone, Args)]
pub(crate) struct GeneratorArgs {
    /// Airports CSV with the header iata,name,city,country,lat,lon,tz
    /// [default: the embedded table of 248 airports].
    #[arg(long, value_name = "FILE")]
    pub(crate) airports: Option<PathBuf>,
    /// Shortest leg flown, km (excludes same-city hops).
    #[arg(long = "min-leg-km", default_value_t = 150.0, value_parser = crate::bounds::non_negative)]
    pub(crate) min_leg_km: f64,
    /// Never pass through home before the day's last landing.
    #[arg(long = "no-home-visits")]
    pub(crate) no_home_visits: bool,
    /// Home airports to draw from, comma-separated IATA codes [default: all].
    #[arg(long, value_delimiter = ',', value_name = "IATA,...")]
    pub(crate) homes: Option<Vec<String>>,
    /// Airports each home base serves (drawn by distance); 0 = all.
    #[arg(long = "network-size", default_value_t = 64)]
    pub(crate) network_size: usize,
}

impl GeneratorArgs {
    pub(crate) fn airports(&self) -> anyhow::Result<Airports> {
        match &self.airports {
            None => Ok(Airports::embedded()),
            Some(path) => {
                crate::bounds::input_file(path, "--airports", crate::bounds::MAX_SMALL_FILE_BYTES)?;
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(Airports::parse(&text, &path.display().to_string())?)
            }
        }
    }

    /// The first of these flags given a value of its own, if any.
    pub(crate) fn given(&self) -> Option<&'static str> {
        let defaults = GeneratorOptions::default();
        if self.airports.is_some() {
            Some("--airports")
        } else if self.homes.is_some() {
            Some("--homes")
        } else if self.no_home_visits {
            Some("--no-home-visits")
        } else if self.min_leg_km != defaults.min_leg_km {
            Some("--min-leg-km")
        } else if self.network_size != defaults.network_size {
            Some("--network-size")
        } else {
            None
        }
    }

    pub(crate) fn options(&self) -> GeneratorOptions {
        GeneratorOptions {
            min_leg_km: self.min_leg_km,
            allow_home_visits: !self.no_home_visits,
            homes: self.homes.clone(),
            network_size: self.network_size,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct SequencesArgs {
    /// Number of aircraft (sequence ids 1..=N).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_SEQUENCES)))]
    count: u32,
    /// Seed: the same seed gives the same sequences.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for sequence_<id>.json files, or `-` to print one JSON array.
    #[arg(long, required_unless_present = "check", conflicts_with = "check")]
    out: Option<PathBuf>,
    /// Validate the sequence_*.json files of DIR instead of generating.
    #[arg(long, value_name = "DIR")]
    check: Option<PathBuf>,
    #[command(flatten)]
    generator: GeneratorArgs,
}

pub(crate) fn run(command: GenerateCommand) -> anyhow::Result<ExitCode> {
    match command {
        GenerateCommand::Sequences(args) => match (&args.check, &args.out) {
            (Some(dir), _) => check_sequences(dir, &args.generator.airports()?),
            (None, Some(out)) => {
                let airports = args.generator.airports()?;
                let sequences = generate_aircraft_daily_sequences(
                    args.count,
                    args.seed,
                    &airports,
                    &args.generator.options(),
                )?;
                write_sequences(&sequences, out)?;
                Ok(ExitCode::SUCCESS)
            }
            (None, None) => bail!("give --out DIR (or -) or --check DIR"),
        },
    }
}

fn write_sequences(sequences: &[Sequence], out: &Path) -> anyhow::Result<()> {
    if out.as_os_str() == "-" {
        let all: Vec<SequenceJson> = sequences.iter().map(SequenceJson::from).collect();
        outln!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for seq in sequences {
        let path = out.join(format!("sequence_{}.json", seq.sequence_id));
        std::fs::write(&path, seq.to_json() + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let flights: usize = sequences.iter().map(|s| s.flights.len()).sum();
    errln!(
        "wrote {} sequences ({} flights) to {}",
        thousands(sequences.len() as u64),
        thousands(flights as u64),
        out.display()
    );
    Ok(())
}

/// Checks every `sequence_*.json` of `dir`; prints one line per broken file.
fn check_sequences(dir: &Path, airports: &Airports) -> anyhow::Result<ExitCode> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sequence_") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no sequence_*.json files", dir.display());
    }
    let mut broken = 0;
    for path in &files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Err(e) = Sequence::from_json(&bytes, airports) {
            broken += 1;
            outln!("{}: {e}", path.display());
        }
    }
    if broken == 0 {
        outln!("{} sequence files obey every rule", files.len());
        Ok(ExitCode::SUCCESS)
    } else {
        errln!(
            "error: {broken} of {} sequence files break a rule",
            files.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Everything that describes an aircraft run's workload.
#[derive(Debug, Clone, Args)]
pub(crate) struct AircraftArgs {
    /// Number of aircraft daily sequences (aircraft shape).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::bounds::MAX_SEQUENCES)))]
    pub(crate) sequences: u32,
    /// Monte Carlo samples per leg (aircraft shape), 1 to 1,000,000.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(dagbench_flight::aircraft::MAX_SAMPLES)))]
    pub(crate) samples: u32,
    /// Add crew connections between aircraft (a general DAG).
    #[arg(long)]
    pub(crate) crew: bool,
    /// Probability of accepting each candidate crew connection.
    #[arg(long = "crew-probability", default_value_t = AircraftWorkload::DEFAULT_CREW_PROBABILITY, value_parser = crate::bounds::fraction)]
    pub(crate) crew_probability: f64,
    /// Run id: the top folder of the run's results [default: aircraft-<seed>].
    #[arg(long = "run-id")]
    pub(crate) run_id: Option<RunId>,
    /// Results root: sequences/ and <run-id>/ are written under it.
    #[arg(long, default_value = "results")]
    pub(crate) results: PathBuf,
    #[command(flatten)]
    pub(crate) generator: GeneratorArgs,
}

impl AircraftArgs {
    /// The workload these flags describe, with `seed`.
    pub(crate) fn workload(&self, seed: u64) -> anyhow::Result<AircraftWorkload> {
        Ok(AircraftWorkload {
            sequences: self.sequences,
            samples: self.samples,
            seed,
            crew_probability: self.crew.then_some(self.crew_probability),
            airports: self.generator.airports()?,
            generator: self.generator.options(),
        })
    }

    /// Generates the sequences and the graph, and writes the sequences and
    /// every job's details under the results root.
    pub(crate) fn build(&self, seed: u64) -> anyhow::Result<Built> {
        let run_id = match &self.run_id {
            Some(id) => id.clone(),
            None => RunId::new(format!("aircraft-{seed}"))?,
        };
        let built = Workload::Aircraft(self.workload(seed)?).build(&run_id)?;
        let store = RunStore::local(&self.results)?;
        crate::rt::current_thread()?.block_on(built.upload(&store, &run_id))?;
        errln!(
            "wrote {} sequences and {} job details under {} (run {run_id}, {} crew connections)",
            thousands(built.inputs.sequences.len() as u64),
            thousands(built.inputs.details.len() as u64),
            self.results.display(),
            built.inputs.crew_edges
        );
        Ok(built)
    }
}
