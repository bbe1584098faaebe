"""`sr-run --cluster`: the same plan carried out by a pool of Ray workers.

`model_parcel.py` (the model files, which travel with the job), `worker.py` (the Ray actor:
loads the model once and runs the runtime's own image, animation and video-range code),
`pool.py` (the driver's side of Ray: connecting, one worker per GPU or CPU slot, handing out
work, redoing what a lost worker held) and `running.py` (`run_plan_on_cluster`: the images,
animations and videos of a `planning.RunPlan`, with sr-run's report and exit codes).

Ray is imported only inside these functions, so the runtime imports without the
`uprez[cluster]` extra.
"""
