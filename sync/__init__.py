"""The federation side of s3fed: peers, harvests, the scheduler, the cooperation index and the
comparative study. Each part is a library with a thin CLI over it."""
