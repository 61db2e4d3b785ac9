// The data half as a library: the stages of the corpus → normalized text → tokens → packed rows pipeline,
// each a type a Swift program can call, run by one ordered parallel runner, with typed manifests and
// progress events. The `tokenmill` executable only parses arguments, calls these and prints.
