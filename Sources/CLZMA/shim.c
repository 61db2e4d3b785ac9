// CLZMA: no code of its own; see include/CLZMA.h.
