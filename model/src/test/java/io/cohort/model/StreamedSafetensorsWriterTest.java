package io.cohort.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cohort.core.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * make-tiny's streamed writer against the in-memory writer on the same values: byte for byte, for every dtype,
 * one file and several, with an embedding larger than a chunk (so chunk and random-block boundaries fall inside
 * a tensor) and fewer worker threads than chunks.
 */
class StreamedSafetensorsWriterTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"BF16,1,3", "F16,3,2", "F32,2,1"})
    void streamedFilesEqualTheInMemoryWritersFiles(String dtypeName, int files, int threads) throws IOException {
        DType dtype = DType.valueOf(dtypeName);
        // embedding 9000 x 128 = 1.15M elements: two chunks of the streamed writer, 18 random blocks
        LlamaConfig c = new LlamaConfig("llama", 128, 256, 2, 4, 2, 32, 9000, 1e-5, 10000.0, 256, false);
        Path memory = dir.resolve("memory"), streamed = dir.resolve("streamed");
        TinyLlama.write(memory, c, dtype, TinyLlama.weights(c, dtype, 5), files);
        TinyLlama.write(streamed, c, dtype, 5, files, threads);
        List<String> names;
        try (Stream<Path> list = Files.list(memory)) {
            names = list.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (Stream<Path> list = Files.list(streamed)) {
            assertEquals(names, list.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertEquals(files == 1 ? 2 : files + 2, names.size(), names.toString());
        for (String name : names) {
            assertArrayEquals(Files.readAllBytes(memory.resolve(name)), Files.readAllBytes(streamed.resolve(name)), name);
        }
        // and it loads: the checkpoint reader accepts what was streamed
        try (Checkpoint checkpoint = Checkpoint.open(streamed)) {
            assertEquals(c.vocabSize(), checkpoint.config().vocabSize());
        }
    }
}
