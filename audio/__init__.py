"""Speech front-end: MFCC / log-mel frames, frame labels from alignments, context windows."""
