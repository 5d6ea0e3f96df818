import { useRef, useState, type FormEvent } from 'react';
import { useMutation } from '@apollo/client/react';
import { ErrorMessage } from '../errors';
import { AttachProductImageDocument, CreateImageUploadDocument, DeleteImageDocument } from '../gql/graphql';
import { Problem } from './AdminGate';
import { ACCEPTED_IMAGE_TYPES, gatewayMediaUrl, MAX_ALT_LENGTH, MAX_UPLOAD_BYTES, uploadProblem } from './media';
import type { AdminProductView } from './ProductEditor';

/**
 * A product's gallery. Upload = the signed flow: createImageUpload → PUT the bytes to the signed URL (the gateway's
 * /media proxy; the media service checks and resizes them before answering) → attachProductImage.
 */
export function ImagesPanel({ product, onChanged }: { product: AdminProductView; onChanged: () => Promise<unknown> }) {
  const [createUpload] = useMutation(CreateImageUploadDocument);
  const [attach] = useMutation(AttachProductImageDocument);
  const file = useRef<HTMLInputElement>(null);
  const [alt, setAlt] = useState('');
  const [step, setStep] = useState<string>();
  const [problem, setProblem] = useState<{ code: string; text: string }>();
  const [failure, setFailure] = useState<unknown>();
  const [done, setDone] = useState<string>();

  const onUpload = async (e: FormEvent) => {
    e.preventDefault();
    setProblem(undefined);
    setFailure(undefined);
    setDone(undefined);
    const chosen = file.current?.files?.[0];
    const refuse = (text: string) => {
      setProblem({ code: 'INVALID_INPUT', text });
      file.current?.focus();
    };
    if (!chosen) return refuse('Choose an image file to upload.');
    if (!ACCEPTED_IMAGE_TYPES.includes(chosen.type)) return refuse('Choose a PNG, JPEG, WebP or GIF image.');
    if (chosen.size > MAX_UPLOAD_BYTES) return refuse('That image is larger than 10 MB.');
    if ([...alt.trim()].length > MAX_ALT_LENGTH) {
      setProblem({ code: 'INVALID_INPUT', text: `The alt text must be at most ${MAX_ALT_LENGTH} characters.` });
      return;
    }
    try {
      setStep('Preparing the upload…');
      // The API takes a plain file name (no path separators or control characters, at most 255 characters).
      const filename = chosen.name.replace(/[\\/\u0000-\u001f\u007f]/g, '_').slice(-255) || 'image';
      const ticket = (await createUpload({ variables: { contentType: chosen.type, filename } })).data
        ?.createImageUpload;
      if (!ticket) throw new Error('no upload ticket');
      setStep('Uploading the image…');
      const res = await fetch(gatewayMediaUrl(ticket.uploadUrl), {
        method: 'PUT',
        headers: { 'content-type': chosen.type },
        body: chosen,
        credentials: 'omit', // the signed URL is the permission; no cookies needed
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        setProblem(uploadProblem(res.status, body.code));
        return;
      }
      setStep('Adding it to the product…');
      await attach({ variables: { productId: product.id, imageId: ticket.imageId, alt: alt.trim() || undefined } });
      await onChanged();
      setAlt('');
      if (file.current) file.current.value = '';
      setDone('Image uploaded.');
    } catch (err) {
      if (err instanceof TypeError) setProblem(uploadProblem(0, 'NETWORK'));
      else setFailure(err);
    } finally {
      setStep(undefined);
    }
  };

  return (
    <section className="stack card" aria-labelledby="images-title">
      <h2 id="images-title">Images</h2>
      {product.images.length === 0 ? (
        <p>No images yet.</p>
      ) : (
        <ul className="admin-images">
          {product.images.map((image, i) => (
            <ImageItem key={image.id} image={image} index={i + 1} onChanged={onChanged} />
          ))}
        </ul>
      )}
      <form className="form admin-form" onSubmit={onUpload} noValidate>
        <h3>Add an image</h3>
        <div className="field">
          <label htmlFor="image-file">Image file</label>
          <input
            id="image-file"
            ref={file}
            type="file"
            accept={ACCEPTED_IMAGE_TYPES.join(',')}
            aria-describedby="image-file-hint"
          />
          <p className="hint" id="image-file-hint">
            PNG, JPEG, WebP or GIF, at most 10 MB. Sizes for the shop are made from it.
          </p>
        </div>
        <div className="field">
          <label htmlFor="image-alt">Alt text</label>
          <input
            id="image-alt"
            value={alt}
            onChange={(e) => setAlt(e.target.value)}
            maxLength={MAX_ALT_LENGTH}
            aria-describedby="image-alt-hint"
          />
          <p className="hint" id="image-alt-hint">
            What the image shows, for people who cannot see it.
          </p>
        </div>
        {problem && <Problem code={problem.code} text={problem.text} />}
        <ErrorMessage error={failure} />
        <p role="status" className="notice" hidden={!step && !done}>
          {step ?? done}
        </p>
        <div>
          <button className="button button-primary" type="submit" disabled={!!step}>
            Upload image
          </button>
        </div>
      </form>
    </section>
  );
}

function ImageItem({
  image,
  index,
  onChanged,
}: {
  image: AdminProductView['images'][number];
  index: number;
  onChanged: () => Promise<unknown>;
}) {
  const [confirming, setConfirming] = useState(false);
  const [remove, { loading, error }] = useMutation(DeleteImageDocument);
  const label = image.alt || `Image ${index}`;
  const thumb = image.variants.find((v) => v.name === 'thumb') ?? image.variants[0];
  return (
    <li className="admin-image">
      <img
        src={gatewayMediaUrl(thumb?.url ?? image.url)}
        alt={image.alt ?? ''}
        width={thumb?.width ?? 150}
        height={thumb?.height ?? 150}
        loading="lazy"
      />
      <div className="stack">
        <p>
          <strong>{label}</strong>
          <br />
          Original: {image.width}×{image.height}, {image.contentType}, {Math.ceil(image.bytes / 1024)} KB (
          <a href={gatewayMediaUrl(image.url)}>open</a>)
        </p>
        <table className="admin-table admin-variants">
          <caption>Sizes of {label}</caption>
          <thead>
            <tr>
              <th scope="col">Size</th>
              <th scope="col">Pixels</th>
            </tr>
          </thead>
          <tbody>
            {image.variants.map((v) => (
              <tr key={v.name}>
                <th scope="row">
                  <a href={gatewayMediaUrl(v.url)}>{v.name}</a>
                </th>
                <td>
                  {v.width}×{v.height}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {confirming ? (
          <div className="admin-row" role="group" aria-label={`Confirm deleting ${label}`}>
            <button
              className="button"
              type="button"
              disabled={loading}
              onClick={async () => {
                try {
                  await remove({ variables: { id: image.id } });
                  await onChanged();
                } catch {
                  /* shown below */
                }
              }}
            >
              Yes, delete {label}
            </button>
            <button className="button" type="button" autoFocus onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </div>
        ) : (
          <div>
            <button className="button" type="button" onClick={() => setConfirming(true)}>
              Delete {label}
            </button>
          </div>
        )}
        <ErrorMessage error={error} />
      </div>
    </li>
  );
}
