"""Build the Cython extensions and place the sample data in the package; metadata is in pyproject.

Every ``ext/_name.pyx`` becomes the compiled module ``gridopt._ext._name``.

The repository keeps its sample data in the top-level ``data/`` folder (PGLib cases, meter
samples, job configs). The wheel ships that folder as ``gridopt/_data``: ``package_dir`` maps the
data-only packages ``gridopt._data[.sub]`` onto ``data/[sub]``, so nothing is copied in the source
tree. :func:`gridopt.network.samples.data_dir` finds either location.
"""

from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_namespace_packages, setup

DATA_PACKAGE = "gridopt._data"

extensions = [
    Extension(
        f"gridopt._ext.{pyx.stem}",
        [str(pyx)],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted(Path("ext").glob("_*.pyx"))
]

# data/ and each of its folders (pglib, meters, jobs) as a data-only package: listing every
# folder keeps setuptools from warning about directories it would otherwise treat as namespaces.
data_packages = [DATA_PACKAGE] + [
    f"{DATA_PACKAGE}.{sub}" for sub in find_namespace_packages(where="data")
]

setup(
    packages=find_namespace_packages(include=["gridopt*"]) + data_packages,
    package_dir={DATA_PACKAGE: "data"},
    package_data={
        "gridopt": ["py.typed"],
        "gridopt._ext": ["*.pyi"],
        **{package: ["*"] for package in data_packages},
    },
    exclude_package_data={package: ["__pycache__/*", "*.pyc"] for package in data_packages},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
