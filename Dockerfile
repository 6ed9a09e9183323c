# Container images for `trainer`. Two targets:
#
#   docker build -t trainer:cuda .              # `cuda`, the last stage and so the default:
#                                               # LibTorch 2.x from pytorch.org on CUDA 12
#   docker build --target cpu -t trainer:cpu .  # `cpu`: Debian 12's own LibTorch 1.13
#
# Both run as the non-root user `trainer` (uid 1000) in /work. The configs in configs/ are
# copied to /configs. They read Fashion-MNIST from /usr/share/datasets/fashion-mnist, so point
# them at a mounted copy, and mount /runs to keep the run directories:
#
#   docker run --rm --gpus all -v "$PWD/data:/data" -v "$PWD/runs:/runs" trainer:cuda \
#       fit -c /configs/fashion_mnist_cnn.yaml --data.init_args.root=/data/fashion-mnist
#
# For trainer:cpu, drop `--gpus all`.
# A bind-mounted /runs must be writable by uid 1000, or pass `--user "$(id -u):$(id -g)"`.
# scripts/check_dockerfile.sh checks this file statically.

# ---------------------------------------------------------------------------------------------
# cpu-build: compiles against Debian 12's packages (g++ 12, LibTorch 1.13), the setup that the
# project is developed and tested with.
FROM debian:12 AS cpu-build

# libtorch-dev pulls in LibTorch 1.13 and its CMake dependencies (glog, gflags, protobuf).
# Debian's LibTorch and spdlog both link Debian's libfmt9, so there is one fmt in the process.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        cmake ninja-build g++ \
        libtorch-dev libyaml-cpp-dev libspdlog-dev libcli11-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the `trainer` target needs, so edits to tests/ or docs/ do not rebuild it.
COPY CMakeLists.txt ./
COPY lib/ lib/
COPY app/ app/
# The same compiler and LibTorch as the project's own builds, so TRAINER_WERROR keeps its
# default (ON).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRAINER_BUILD_TESTS=OFF \
    && cmake --build /build --target trainer

# ---------------------------------------------------------------------------------------------
# cpu: the runtime packages of the libraries above, on debian:12-slim.
FROM debian:12-slim AS cpu

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# libtorch1.13 only Recommends a fast BLAS, so --no-install-recommends would leave the
# reference BLAS as libblas.so.3, which makes matrix products much slower (10x or more is
# an estimate, not measured here). libopenblas0-openmp registers itself as libblas.so.3 and
# liblapack.so.3 with a higher update-alternatives priority, and the last command fails the
# build if OpenBLAS did not become libblas.so.3.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libtorch1.13 libopenblas0-openmp libyaml-cpp0.7 libspdlog1.10 \
    && rm -rf /var/lib/apt/lists/* \
    && { update-alternatives --query "libblas.so.3-$(uname -m)-linux-gnu" | grep '^Value: .*openblas' \
        || { echo "libblas.so.3 is not OpenBLAS after installing libopenblas0-openmp" >&2; exit 1; }; }

COPY --from=cpu-build /build/app/trainer /usr/local/bin/trainer
# Fails the build here, not at `docker run`, if a shared library is missing.
RUN trainer --version

# /work/runs points at the /runs volume, so the default trainer.default_root_dir ("runs",
# relative to the working directory) writes there.
RUN useradd --uid 1000 --create-home --shell /usr/sbin/nologin trainer \
    && mkdir -p /work /data /runs \
    && chown trainer:trainer /work /data /runs \
    && ln -s /runs /work/runs
COPY configs/ /configs/

USER 1000:1000
WORKDIR /work
VOLUME ["/data", "/configs", "/runs"]
# Exec form makes trainer PID 1, so `docker stop` and Ctrl-C send SIGTERM/SIGINT to it
# directly. PID 1 gets no default signal action from the kernel, so the process stops only
# if trainer installs its own handlers; otherwise run with `docker run --init`.
ENTRYPOINT ["trainer"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------------
# cuda-build: LibTorch 2.x from pytorch.org. The devel image is needed because LibTorch's
# CMake config looks for the CUDA toolkit (nvcc) and the cuDNN headers and libraries.
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04 AS cuda-build

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# NOTE: the Ubuntu 22.04 package names and versions here (CLI11 2.1, spdlog 1.9 with fmt 8.1,
# all in universe) are from memory. Only Debian 12's apt cache could be checked, and this
# stage has never been built.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        cmake ninja-build g++ unzip curl ca-certificates \
        libyaml-cpp-dev libspdlog-dev libcli11-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

# The cxx11-ABI build is required because Ubuntu's yaml-cpp and spdlog pass std::string
# across their interfaces with the new libstdc++ ABI. Keep LIBTORCH_CUDA in step with the
# CUDA version of the base images (cu124 for 12.4). Set LIBTORCH_SHA256 to verify the zip.
ARG LIBTORCH_VERSION=2.4.1
ARG LIBTORCH_CUDA=cu124
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/${LIBTORCH_CUDA}/libtorch-cxx11-abi-shared-with-deps-${LIBTORCH_VERSION}%2B${LIBTORCH_CUDA}.zip
ARG LIBTORCH_SHA256=

# fmt: Ubuntu's spdlog is compiled against Ubuntu's libfmt.so.8 and includes <fmt/...> from
# the system. (Debian 12's spdlog package has no bundled fmt and defines SPDLOG_FMT_EXTERNAL
# in tweakme.h; Ubuntu's is assumed to be packaged the same way.) LibTorch 2.x compiles in
# its own fmt header-only as a private dependency, but the zip also installs those headers
# as include/fmt. CMake passes /opt/libtorch/include with -isystem, which is searched before
# /usr/include, so spdlog would compile against LibTorch's fmt headers and link Ubuntu's
# libfmt.so.8. Deleting include/fmt leaves one fmt for our code. LibTorch's compiled-in copy
# stays, which is safe while its major version, and so its inline namespace (fmt::v10 and
# so on), differs from Ubuntu's fmt::v8. The step below fails the build if the two match.
# NOTE: that no public LibTorch header includes <fmt/...> was read from PyTorch's CMake
# files, not tested; a header that did would fail this build at compile time.
RUN curl --fail --location --silent --show-error --retry 3 --output /tmp/libtorch.zip "${LIBTORCH_URL}" \
    && if [ -n "${LIBTORCH_SHA256}" ]; then \
        echo "${LIBTORCH_SHA256}  /tmp/libtorch.zip" | sha256sum --check --strict -; \
    fi \
    && unzip -q /tmp/libtorch.zip -d /opt \
    && rm /tmp/libtorch.zip \
    && if [ -d /opt/libtorch/include/fmt ]; then \
        torch_fmt="$(awk '$1 == "#define" && $2 == "FMT_VERSION" { print int($3 / 10000); exit }' /opt/libtorch/include/fmt/*.h)"; \
        system_fmt="$(awk '$1 == "#define" && $2 == "FMT_VERSION" { print int($3 / 10000); exit }' /usr/include/fmt/*.h)"; \
        if [ -n "${torch_fmt}" ] && [ "${torch_fmt}" = "${system_fmt}" ]; then \
            echo "LibTorch and Ubuntu both ship fmt ${system_fmt}.x, whose symbols share the" \
                "inline namespace fmt::v${system_fmt} and could collide; pick another LIBTORCH_VERSION" >&2; \
            exit 1; \
        fi; \
        rm -rf /opt/libtorch/include/fmt; \
    fi

WORKDIR /src
COPY CMakeLists.txt ./
COPY lib/ lib/
COPY app/ app/
# TRAINER_WERROR=OFF: the project's own builds use g++ 12 and LibTorch 1.13. g++ 11 and the
# deprecations in LibTorch 2.x headers can warn about our own files where those builds do
# not, and such a warning should not stop an image build.
# TRAINER_NCCL=ON compiles the NCCL process group that strategy 'ddp' uses on CUDA devices,
# and makes the configure step fail if LibTorch is not a CUDA build or nccl.h is missing.
# NOTE: nccl.h is expected from the devel base image (NVIDIA's CUDA devel images ship
# libnccl-dev, as far as we know) or from LibTorch's include folder. Neither this stage nor
# the NCCL code has been built yet.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=/opt/libtorch \
        -DTRAINER_BUILD_TESTS=OFF -DTRAINER_WERROR=OFF -DTRAINER_NCCL=ON \
    && cmake --build /build --target trainer

# Stage the runtime files for the next stage: every LibTorch shared library (the CUDA and
# cuDNN libraries that LibTorch opens with dlopen are not in ldd's output, so all are kept)
# and the three Ubuntu libraries that trainer links and the runtime base image lacks.
RUN mkdir -p /staging/libtorch /staging/lib \
    && cp -a /opt/libtorch/lib/*.so* /staging/libtorch/ \
    && ldd /build/app/trainer \
        | awk '$3 ~ /\/lib(yaml-cpp|spdlog|fmt)\.so/ { print $3 }' \
        | xargs --no-run-if-empty cp --dereference --target-directory=/staging/lib/ \
    && for name in yaml-cpp spdlog fmt; do \
        compgen -G "/staging/lib/lib${name}.so.*" > /dev/null \
            || { echo "lib${name}.so.* not found in 'ldd /build/app/trainer'" >&2; exit 1; }; \
    done

# ---------------------------------------------------------------------------------------------
# cuda: the runtime image, and the default target.
# NOTE: as far as we know, the "shared-with-deps" zip bundles its own CUDA runtime and cuDNN
# libraries, and LD_LIBRARY_PATH puts them first. The cuDNN runtime image covers any that it
# does not bundle. A smaller -runtime- or -base- image may be enough, but that is untested.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 AS cuda

COPY --from=cuda-build /staging/libtorch/ /opt/libtorch/lib/
COPY --from=cuda-build /staging/lib/ /usr/local/lib/trainer/
COPY --from=cuda-build /build/app/trainer /usr/local/bin/trainer
# The base image sets LD_LIBRARY_PATH for the driver libraries that the NVIDIA container
# runtime mounts, so it is extended, not replaced.
ENV LD_LIBRARY_PATH=/opt/libtorch/lib:/usr/local/lib/trainer:${LD_LIBRARY_PATH}
# Fails the build if a shared library is missing. No GPU is needed for this, as far as we
# know, because the CUDA runtime opens the driver library only on the first CUDA call.
RUN trainer --version

RUN useradd --uid 1000 --create-home --shell /usr/sbin/nologin trainer \
    && mkdir -p /work /data /runs \
    && chown trainer:trainer /work /data /runs \
    && ln -s /runs /work/runs
COPY configs/ /configs/

USER 1000:1000
WORKDIR /work
VOLUME ["/data", "/configs", "/runs"]
# See the cpu stage for how signals reach trainer as PID 1.
ENTRYPOINT ["trainer"]
CMD ["--help"]
