"""cdae-lite: a cascade of denoising autoencoders for cryo-EM images, small enough to teach.

The package follows the data flow of the book::

    structure --maps--> 3D map --simulate/ctf/noise--> noisy stack --models/train--> denoised stack
    stack --cluster--> labels, class averages;  (clean, denoised, labels) --metrics--> tables

Arrays are ``float32`` NumPy arrays of shape ``(n, size, size)``; torch tensors carry a channel axis,
``(n, 1, size, size)``. Units are written into argument names (``pixel_size_A``, ``defocus_A``,
``angles_deg``).
"""

__version__ = "0.1.0"

#: Where the book and the project live. Used for launch buttons and for fetching data files when the
#: package is installed without its repository checkout.
REPOSITORY_URL = "https://github.com/cdae-lite/cdae-lite"
