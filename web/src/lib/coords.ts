// Mapping between page (client) coordinates and remote screen pixels for a
// <video> shown with `object-fit: contain` (letterboxed / pillarboxed).

export interface Size {
  width: number
  height: number
}

export interface Rect {
  left: number
  top: number
  width: number
  height: number
}

export interface Point {
  x: number
  y: number
}

/**
 * The rectangle the video picture actually occupies inside `element`
 * (object-fit: contain, centred). `content` is the intrinsic picture size
 * (videoWidth × videoHeight); when unknown (0) the element is assumed full.
 */
export function containRect(element: Rect, content: Size): Rect {
  if (content.width <= 0 || content.height <= 0 || element.width <= 0 || element.height <= 0) {
    return { ...element }
  }
  const scale = Math.min(element.width / content.width, element.height / content.height)
  const width = content.width * scale
  const height = content.height * scale
  return {
    left: element.left + (element.width - width) / 2,
    top: element.top + (element.height - height) / 2,
    width,
    height,
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}

/** Picture size to letterbox with: the video's own size, else the screen's. */
function pictureSize(video: Size, screen: Size): Size {
  return video.width > 0 && video.height > 0 ? video : screen
}

/**
 * Page coordinates → remote screen pixel (integers, clamped to the screen).
 *
 * @param element the video element's bounding client rect
 * @param video   videoWidth/videoHeight (0 when not known yet)
 * @param screen  the remote screen size (`screen_size`)
 */
export function clientToRemote(
  clientX: number,
  clientY: number,
  element: Rect,
  video: Size,
  screen: Size,
): Point {
  const content = containRect(element, pictureSize(video, screen))
  if (content.width <= 0 || content.height <= 0 || screen.width <= 0 || screen.height <= 0) {
    return { x: 0, y: 0 }
  }
  const x = Math.floor(((clientX - content.left) / content.width) * screen.width)
  const y = Math.floor(((clientY - content.top) / content.height) * screen.height)
  return {
    x: clamp(x, 0, screen.width - 1),
    y: clamp(y, 0, screen.height - 1),
  }
}

/** Remote screen pixel → page coordinates of that pixel's centre. */
export function remoteToClient(
  x: number,
  y: number,
  element: Rect,
  video: Size,
  screen: Size,
): Point {
  const content = containRect(element, pictureSize(video, screen))
  if (screen.width <= 0 || screen.height <= 0) return { x: content.left, y: content.top }
  return {
    x: content.left + ((x + 0.5) / screen.width) * content.width,
    y: content.top + ((y + 0.5) / screen.height) * content.height,
  }
}

/** Whether a page point lies on the picture (not on the black bars). */
export function isOnPicture(
  clientX: number,
  clientY: number,
  element: Rect,
  video: Size,
  screen: Size,
): boolean {
  const c = containRect(element, pictureSize(video, screen))
  return (
    clientX >= c.left &&
    clientX < c.left + c.width &&
    clientY >= c.top &&
    clientY < c.top + c.height
  )
}

/**
 * Remote screen pixel → where its top-left corner is drawn inside `element`
 * (same letterboxing as the input mapping), with the display scale (CSS
 * pixels per remote pixel) to size things drawn in remote pixels, such as
 * the cursor image.
 */
export function remoteToDisplay(
  x: number,
  y: number,
  element: Rect,
  video: Size,
  screen: Size,
): Point & { scale: number } {
  const content = containRect(element, pictureSize(video, screen))
  if (screen.width <= 0 || screen.height <= 0 || content.width <= 0) {
    return { x: content.left, y: content.top, scale: 1 }
  }
  const scale = content.width / screen.width
  return {
    x: content.left + x * scale,
    y: content.top + (y / screen.height) * content.height,
    scale,
  }
}
