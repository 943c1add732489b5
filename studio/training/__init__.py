"""Training a persona: `config` (TrainConfig), `run` (a run's whole training, as a job's body), `step`
(the loss and the batching tricks inside a step), `jobs` (a process per run, queue, cancel, resume) and
`events` (the progress events those write and the CLI and UI read)."""
