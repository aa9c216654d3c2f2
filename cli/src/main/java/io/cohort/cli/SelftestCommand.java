package io.cohort.cli;

import io.cohort.api.Cohort;
import io.cohort.api.CohortGroup;
import io.cohort.group.CollectiveResult;
import io.cohort.backend.BackendKind;
import io.cohort.backend.CollectiveCall;
import io.cohort.bench.TensorIo;
import io.cohort.bench.Verifier;
import io.cohort.core.Collective;
import io.cohort.core.DType;
import io.cohort.core.ReduceOp;
import io.cohort.device.Device;
import io.cohort.device.Tensor;
import io.cohort.device.discovery.Devices;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code cohort selftest}: every collective, dtype and op on the available devices, checked, PASS/FAIL per case. */
@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = {"Runs every collective on the devices and checks each result, PASS/FAIL per case.",
                "Cases: every collective x f32/f16/bf16 x every op x 1, 1001 and 65536 elements, several roots, "
                        + "in place and out of place. Exit code 1 if any case fails."})
final class SelftestCommand implements Callable<Integer> {

    /** Element counts per rank: one element, an odd size, and one that spans several chunks. */
    static final long[] COUNTS = {1, 1001, 65_536};

    @ParentCommand
    CohortCli parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--devices", defaultValue = "auto", description = "host:N, cuda, cuda:N, cuda:D*R (R ranks on device D) or auto (default)")
    String devices;

    @Option(names = "--backends", split = ",", description = "backends to test (default cohort.backend.kind)")
    List<String> backends;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int passed = 0;
        int failed = 0;
        com.typesafe.config.Config config = parent.config();
        List<String> tested = backends != null ? backends : List.of(config.getString("cohort.backend.kind"));
        try (Cohort cohort = Cohort.start(config); TensorIo io = new TensorIo()) {
            Devices.Selection sel = cohort.selectDevices(devices);
            List<Device> ds = sel.devices();
            int n = ds.size();
            out.printf("# selftest on %s (%s)%n", ds.stream().map(Device::name).toList(), sel.reason());
            for (String b : tested) {
                try (CohortGroup group = cohort.group(ds, BackendKind.parse(b))) {
                    out.printf("# backend %s -> %s%n", b, CohortCli.describe(group.backendChoice()));
                    for (Case c : cases(n)) {
                        String result = run(group, c, io);
                        boolean ok = result.startsWith("PASS");
                        passed += ok ? 1 : 0;
                        failed += ok ? 0 : 1;
                        out.println(result);
                        out.flush();
                    }
                }
            }
        }
        out.printf("# %d passed, %d failed%n", passed, failed);
        out.flush();
        return failed == 0 ? 0 : 1;
    }

    record Case(CollectiveCall call, boolean inPlace) {
        String label(int n) {
            Collective c = call.collective();
            return String.format(Locale.ROOT, "%-14s %-4s %-4s %6d elements%s%s", c.cliName(),
                    call.dtype().name().toLowerCase(Locale.ROOT),
                    c.reduces() ? call.op().name().toLowerCase(Locale.ROOT) : "-", call.count(),
                    c.rooted() ? " root " + call.root() : "", inPlace ? " in place" : "");
        }
    }

    static List<Case> cases(int n) {
        List<Case> cases = new ArrayList<>();
        for (Collective c : Collective.values()) {
            for (DType t : DType.values()) {
                for (long count : COUNTS) {
                    List<ReduceOp> ops = c.reduces() ? List.of(ReduceOp.values()) : List.of(ReduceOp.SUM);
                    for (ReduceOp op : ops) {
                        int root = c.rooted() ? (int) (count % n) : 0;
                        cases.add(new Case(new CollectiveCall(c, t, op, count, root), false));
                    }
                }
            }
        }
        cases.add(new Case(CollectiveCall.allReduce(DType.F32, ReduceOp.SUM, 1001), true));
        cases.add(new Case(new CollectiveCall(Collective.BROADCAST, DType.BF16, ReduceOp.SUM, 1001, n - 1), true));
        return cases;
    }

    private static String run(CohortGroup group, Case c, TensorIo io) {
        CollectiveCall call = c.call();
        int n = group.size();
        long sendCount = call.collective().sendCount(call.count(), n);
        long recvCount = call.collective().recvCount(call.count(), n);
        List<Tensor> send = group.allocate(call.dtype(), sendCount);
        List<Tensor> recv = c.inPlace() ? send : group.allocate(call.dtype(), recvCount);
        try {
            Verifier.prepare(io, call.dtype(), send, sendCount, recv, recvCount);
            CollectiveResult r = group.run(call, send, recv).toCompletableFuture().join();
            long wrong = Verifier.countWrong(io, call, recv);
            String how = r.backend().cliName() + "/" + r.algorithm();
            return wrong == 0
                    ? String.format(Locale.ROOT, "PASS  %s  %s", c.label(n), how)
                    : String.format(Locale.ROOT, "FAIL  %s  %s: %d wrong elements", c.label(n), how, wrong);
        } catch (CompletionException | io.cohort.core.CohortException e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            return "FAIL  " + c.label(n) + ": " + cause.getMessage();
        } finally {
            group.release(send);
            if (!c.inPlace()) {
                group.release(recv);
            }
        }
    }
}
