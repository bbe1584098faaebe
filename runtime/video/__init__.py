"""One video through the model: decoded by ffmpeg into raw frames, upscaled in batches by a
frame function, encoded in resumable segments, and joined with the source's audio, subtitles
and chapters (`pipeline.run_video` for a `job.VideoJob`, or `pipeline.upscale_video`).

This package imports only itself and `uprez.runtime.base`: the model reaches it as a frame
function, so it knows nothing of the Upscaler, sr-run's planning or its batch report
(`uprez.runtime.video_jobs` connects them).
"""
