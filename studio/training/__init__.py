"""Training a persona: `config` (TrainConfig), `run` (a run's whole training, as a job's body), `step`
(the loss and the batching tricks inside a step) and `jobs` (a process per run, queue, cancel, resume).
The progress events they write, and the CLI and UI read, are declared in studio.events."""
