"""Provides LoRA training: data encoding, packing, the recipe, run events and the run process.

One run, from the command line::

    persona-studio train WORKSPACE [--run NAME] [--detach]    # a separate process, own session
    persona-studio runs WORKSPACE [--follow NAME]             # list runs / tail one run's events
    persona-studio stop WORKSPACE [--run NAME]                # checkpoint, then stop
    persona-studio train WORKSPACE --run NAME --resume        # continue after a stop or a crash

The run folder ``runs/<id>/`` (:class:`studio.train.rundir.RunDir` owns its layout) holds the
frozen config (the preset for the GPU, then studio.toml ``[train]``, then overrides), the frozen
training data, the typed events (:mod:`studio.train.events`), the checkpoints and the adapter.

Several GPUs. ``persona-studio train WORKSPACE --gpus N`` starts ``torchrun`` with N processes
(NCCL; on a machine without GPUs, N gloo processes on the CPU). Each optimizer step takes the
same samples whatever N is (:mod:`studio.train.packing`), so the loss curve does not change
with N, and a run can resume on another number of processes. The same entry point runs under
other launchers::

    torchrun --standalone --nproc-per-node 8 -m studio.train runs/my-run
    accelerate launch --num_processes 8 -m studio.train runs/my-run

``--parallel ddp`` (the default) keeps a whole model on every GPU, which is what LoRA on a model
that fits one GPU wants. For a model too big for one GPU, ``--parallel fsdp`` (``parallel =
"fsdp"`` in the run config) shards every decoder layer across the GPUs with PyTorch FSDP2; the
LoRA weights and optimizer state are gathered on rank 0 for checkpoints, so a checkpoint is the
same ordinary adapter either way. Every process still loads the base model before sharding it,
so the machine needs the CPU memory for one copy per process. Only rank 0 writes events.
"""
