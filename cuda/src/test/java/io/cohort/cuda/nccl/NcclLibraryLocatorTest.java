package io.cohort.cuda.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.ConfigFactory;
import io.cohort.backend.BackendKind;
import io.cohort.backend.BackendProvider;
import io.cohort.backend.GroupContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where libnccl is looked for, and what is said when it is not found. */
class NcclLibraryLocatorTest {

    @TempDir
    Path tmp;

    @Test
    void notFoundNamesEveryPathSearchedInOrder() throws IOException {
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Path c = Files.createDirectories(tmp.resolve("c"));
        NcclLibraryLocator loc = NcclLibraryLocator.of(tmp.resolve("custom/libnccl.so.2").toString(), a.toString(),
                b + ":" + c, List.of(c.toString(), "/nonexistent/lib64"));
        var e = assertThrows(NcclUnavailableException.class, loc::locate);
        String expected = "NCCL is not available: libnccl.so.2 not found; searched"
                + "\n  " + tmp.resolve("custom/libnccl.so.2") + " (cohort.nccl.library)"
                + "\n  " + a.resolve("libnccl.so.2") + " (NCCL_LIBRARY)"
                + "\n  " + b.resolve("libnccl.so.2") + " (LD_LIBRARY_PATH)"
                + "\n  " + c.resolve("libnccl.so.2") + " (LD_LIBRARY_PATH)"
                + "\n  /nonexistent/lib64/libnccl.so.2 (cohort.nccl.search-dirs)\n";
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
        assertTrue(e.getMessage().contains("cohort.nccl.library or NCCL_LIBRARY"), e.getMessage());
        assertTrue(e instanceof io.cohort.core.CohortException);
    }

    @Test
    void firstExistingCandidateWins() throws IOException {
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Files.createFile(b.resolve("libnccl.so.2"));
        Path c = Files.createDirectories(tmp.resolve("c"));
        Files.createFile(c.resolve("libnccl.so.2"));
        assertEquals(b.resolve("libnccl.so.2"),
                NcclLibraryLocator.of("", null, a + "::" + b, List.of(c.toString())).locate());
    }

    @Test
    void configuredPathBeatsEnvironmentAndMayBeAFolderOrAFile() throws IOException {
        Path conf = Files.createDirectories(tmp.resolve("conf"));
        Files.createFile(conf.resolve("libnccl.so.2"));
        Path env = Files.createDirectories(tmp.resolve("env"));
        Path envFile = Files.createFile(env.resolve("libnccl.so.2.28.3"));
        assertEquals(conf.resolve("libnccl.so.2"), NcclLibraryLocator.of(conf.toString(), envFile.toString(), null, List.of()).locate());
        assertEquals(envFile, NcclLibraryLocator.of("", envFile.toString(), null, List.of()).locate());
    }

    @Test
    void duplicatesAreSearchedOnce() {
        NcclLibraryLocator loc = NcclLibraryLocator.of(null, null, "/x:/x/:/y", List.of("/y", "/z"));
        assertEquals(List.of("/x/libnccl.so.2", "/y/libnccl.so.2", "/z/libnccl.so.2"),
                loc.candidates().stream().map(c -> c.path().toString()).toList());
    }

    @Test
    void nothingToSearchSaysSo() {
        var e = assertThrows(NcclUnavailableException.class, () -> NcclLibraryLocator.of("", "", "", List.of()).locate());
        assertTrue(e.getMessage().contains("searched nothing"), e.getMessage());
    }

    @Test
    void aFileThatIsNotALibraryIsReportedAsUnloadable() throws IOException {
        Path fake = Files.writeString(tmp.resolve("libnccl.so.2"), "not an ELF file");
        var e = assertThrows(NcclUnavailableException.class, () -> NcclLibrary.load(fake));
        assertTrue(e.getMessage().contains("found " + fake + " but could not load it"), e.getMessage());
    }

    @Test
    void defaultsComeFromReferenceConf() {
        NcclSettings s = NcclSettings.defaults();
        assertEquals(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/cuda/lib64", "/usr/local/nccl/lib"),
                s.searchDirs());
        assertEquals("", s.library());
        assertEquals(NcclSettings.Launch.AUTO, s.launch());
        assertTrue(s.uniqueId().isEmpty());
        NcclSettings custom = NcclSettings.from(ConfigFactory.parseString(
                "nccl { library = \"/opt/nccl/lib\", launch = grouped, unique-id = \""
                        + new NcclUniqueId(new byte[128]).toBase64() + "\" }"));
        assertEquals("/opt/nccl/lib", custom.library());
        assertEquals(NcclSettings.Launch.GROUPED, custom.launch());
        assertEquals(new NcclUniqueId(new byte[128]), custom.uniqueId().orElseThrow());
        NcclUniqueId id = NcclUniqueId.fromBase64(new NcclUniqueId(new byte[128]).toBase64().replace("AAAA", "AQID"));
        assertEquals(id, NcclSettings.from(NcclSettings.withUniqueId(ConfigFactory.empty(), id)).uniqueId().orElseThrow());
    }

    @Test
    void providerIsFoundAndExplainsAMissingLibrary() throws IOException {
        BackendProvider p = ServiceLoader.load(BackendProvider.class).stream()
                .filter(x -> x.type() == NcclBackendProvider.class).findFirst().orElseThrow().get();
        assertEquals(BackendKind.NCCL, p.kind());
        assertEquals(100, p.priority());
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        TestGroup g = TestGroup.allLocal(1);
        GroupContext ctx = new GroupContext(g.context().topology(), g.ranks, ConfigFactory.parseString(
                "nccl { library = \"" + empty + "\", search-dirs = [\"" + empty + "\"] }"));
        assumeTrue(NcclLibraryLocator.fromEnvironment(NcclSettings.from(ctx.config())).candidates().stream()
                .noneMatch(c -> Files.isRegularFile(c.path())), "a real NCCL is installed here");
        String reason = p.unavailableReason(ctx).orElseThrow();
        assertTrue(reason.contains(empty.resolve("libnccl.so.2") + " (cohort.nccl.library)"), reason);
    }

    @Test
    void providerRefusesHostDevicesBeforeLookingForTheLibrary() {
        TestGroup g = TestGroup.allLocal(1);
        var host = new FakeCuda.FakeDevice(0, io.cohort.device.DeviceKind.HOST, g.log);
        GroupContext ctx = new GroupContext(g.context().topology(),
                List.of(new io.cohort.backend.RankContext(0, host, host.createStream(), null)), ConfigFactory.empty());
        assertEquals("NCCL needs CUDA devices: rank 0 runs on host:0",
                new NcclBackendProvider().unavailableReason(ctx).orElseThrow());
    }
}
