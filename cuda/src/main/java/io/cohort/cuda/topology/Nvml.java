package io.cohort.cuda.topology;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The few NVML calls topology detection needs (NVLink state and where each link goes), bound through
 * java.lang.foreign to {@code libnvidia-ml.so.1}, which ships with the driver. Absent library: {@link #load()}
 * is empty and links are classified from CUDA's P2P attributes alone.
 */
public final class Nvml {

    private static final Logger LOG = LoggerFactory.getLogger(Nvml.class);
    /** NVML_NVLINK_MAX_LINKS of current drivers (18 on Hopper). */
    static final int MAX_LINKS = 18;
    private static final int SUCCESS = 0;
    private static final int DEVICE_TYPE_SWITCH = 2;
    // nvmlPciInfo_t: char busIdLegacy[16]; unsigned domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32]
    private static final long PCI_INFO_BYTES = 68;
    private static final long PCI_DOMAIN = 16;
    private static final long PCI_BUS = 20;
    private static final long PCI_DEVICE = 24;

    private static volatile Optional<Nvml> instance;

    private final MethodHandle handleByPciBusId;
    private final MethodHandle nvLinkState;
    private final MethodHandle nvLinkRemotePciInfo;
    private final MethodHandle nvLinkRemoteDeviceType;

    private Nvml(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        handleByPciBusId = linker.downcallHandle(lib.find("nvmlDeviceGetHandleByPciBusId_v2").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        nvLinkState = linker.downcallHandle(lib.find("nvmlDeviceGetNvLinkState").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        nvLinkRemotePciInfo = linker.downcallHandle(lib.find("nvmlDeviceGetNvLinkRemotePciInfo_v2").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        nvLinkRemoteDeviceType = lib.find("nvmlDeviceGetNvLinkRemoteDeviceType")
                .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS)))
                .orElse(null);
    }

    /** NVML, initialized once per process; empty where the library or a GPU is missing. */
    public static Optional<Nvml> load() {
        Optional<Nvml> n = instance;
        if (n == null) {
            synchronized (Nvml.class) {
                n = instance;
                if (n == null) {
                    n = open();
                    instance = n;
                }
            }
        }
        return n;
    }

    private static Optional<Nvml> open() {
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libnvidia-ml.so.1", Arena.global());
            MethodHandle init = Linker.nativeLinker().downcallHandle(lib.find("nvmlInit_v2").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            int r = (int) init.invokeExact();
            if (r != SUCCESS) {
                LOG.debug("nvmlInit_v2 returned {}", r);
                return Optional.empty();
            }
            return Optional.of(new Nvml(lib));
        } catch (Throwable t) {
            LOG.debug("NVML unavailable: {}", t.toString());
            return Optional.empty();
        }
    }

    /** NVLink facts of one GPU: active links, and per remote PCI address how many links reach it. */
    public record LinkReport(int activeLinks, int switchLinks, java.util.Map<Long, Integer> linksToPeer) {
        /** Links between this GPU and the GPU at {@code pciBusId}: direct links, else links via NVSwitch. */
        public int linksTo(String pciBusId, LinkReport peer) {
            int direct = linksToPeer.getOrDefault(pciKey(pciBusId), 0);
            if (direct > 0) {
                return direct;
            }
            return Math.min(switchLinks, peer.switchLinks);
        }
    }

    /** Reads the NVLink state of the GPU at {@code pciBusId} (CUDA's format, e.g. "0000:18:00.0"). */
    public LinkReport links(String pciBusId) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handle = arena.allocate(ValueLayout.ADDRESS);
            int r = (int) handleByPciBusId.invokeExact(arena.allocateFrom(pciBusId), handle);
            if (r != SUCCESS) {
                LOG.debug("nvmlDeviceGetHandleByPciBusId_v2({}) returned {}", pciBusId, r);
                return new LinkReport(0, 0, java.util.Map.of());
            }
            MemorySegment dev = handle.get(ValueLayout.ADDRESS, 0);
            MemorySegment state = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment type = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment pci = arena.allocate(PCI_INFO_BYTES, 8);
            int active = 0;
            int viaSwitch = 0;
            java.util.Map<Long, Integer> toPeer = new java.util.HashMap<>();
            for (int link = 0; link < MAX_LINKS; link++) {
                if ((int) nvLinkState.invokeExact(dev, link, state) != SUCCESS || state.get(ValueLayout.JAVA_INT, 0) != 1) {
                    continue;
                }
                active++;
                if (nvLinkRemoteDeviceType != null && (int) nvLinkRemoteDeviceType.invokeExact(dev, link, type) == SUCCESS
                        && type.get(ValueLayout.JAVA_INT, 0) == DEVICE_TYPE_SWITCH) {
                    viaSwitch++;
                    continue;
                }
                if ((int) nvLinkRemotePciInfo.invokeExact(dev, link, pci) == SUCCESS) {
                    long key = pciKey(pci.get(ValueLayout.JAVA_INT, PCI_DOMAIN), pci.get(ValueLayout.JAVA_INT, PCI_BUS),
                            pci.get(ValueLayout.JAVA_INT, PCI_DEVICE));
                    toPeer.merge(key, 1, Integer::sum);
                }
            }
            return new LinkReport(active, viaSwitch, toPeer);
        } catch (Throwable t) {
            LOG.debug("NVML link query failed for {}: {}", pciBusId, t.toString());
            return new LinkReport(0, 0, java.util.Map.of());
        }
    }

    static long pciKey(int domain, int bus, int device) {
        return ((long) domain << 16) | ((bus & 0xff) << 8) | (device & 0xff);
    }

    /** Key of a PCI address "dddd:bb:dd.f" (domain of any width, hex). */
    static long pciKey(String busId) {
        String[] parts = busId.trim().split("[:.]");
        if (parts.length < 3) {
            throw new IllegalArgumentException("not a PCI bus id: " + busId);
        }
        return pciKey(Integer.parseUnsignedInt(parts[0], 16), Integer.parseInt(parts[1], 16), Integer.parseInt(parts[2], 16));
    }
}
